package main_test

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestSegmentLiveCountIgnoresAStaleAnswer: the live count of a segment being built shows the
// answer for the latest conditions even when an earlier, broader count comes back after it
// (here the page's fetch holds the first answer back 1.5 s). The older answer used to stay
// on screen; found as a flaky TestSegmentAndCampaignInBrowser in a clean-clone CI run.
func TestSegmentLiveCountIgnoresAStaleAnswer(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	tok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	counts := map[string]int{}
	for _, f := range []string{`email != ""`, `email != "" && company.name != ""`} {
		var c struct {
			Count int `json:"count"`
		}
		if code := s.api(t, http.MethodPost, "/api/relata/segments/count", tok, map[string]any{"filter": f}, &c); code != 200 {
			t.Fatalf("count %s = %d", f, code)
		}
		counts[f] = c.Count
	}
	if counts[`email != ""`] == counts[`email != "" && company.name != ""`] {
		t.Fatalf("the two filters count alike (%v): the test could not tell them apart", counts)
	}
	mgr := newBrowser(t).signIn(t, s, "manager@example.com")
	mgr.do(chromedp.EmulateViewport(1400, 900))
	mgr.open("/segments/new", "#segment-name")
	// Hold back the answer of the first, broader count.
	eval[bool](mgr, `(() => { const orig = window.fetch; window.fetch = async (url, opts) => {
		const res = await orig(url, opts);
		if (String(url).includes('/segments/count') && opts?.body && JSON.parse(opts.body).filter === 'email != ""') {
			await new Promise((r) => setTimeout(r, 1500));
		}
		return res; }; return true; })()`)
	mgr.setInput(`.segment-builder select[aria-label="Filter field"]`, "email")
	mgr.setInput(`.segment-builder select[aria-label="Filter operator"]`, "set")
	mgr.do(chromedp.Click(chromedp.CSS("#add-filter")))
	time.Sleep(400 * time.Millisecond) // its count is asked (250 ms), its answer held
	mgr.setInput("#segment-group", "company")
	mgr.wait("the company fields", `[...document.querySelectorAll('.segment-builder select[aria-label="Filter field"] option')].some(o => o.value === 'domain')`)
	mgr.setInput(`.segment-builder select[aria-label="Filter field"]`, "name")
	mgr.setInput(`.segment-builder select[aria-label="Filter operator"]`, "set")
	mgr.do(chromedp.Click(chromedp.CSS("#add-filter")))
	want := fmt.Sprintf("%d contact", counts[`email != "" && company.name != ""`])
	mgr.wait("the live count", fmt.Sprintf(`document.querySelector('[data-testid=segment-live-count]').textContent.trim().startsWith(%q)`, want))
	time.Sleep(2 * time.Second) // the held answer arrives
	if got := eval[string](mgr, `document.querySelector('[data-testid=segment-live-count]').textContent.trim()`); !strings.HasPrefix(got, want) {
		mgr.fail("the live count reads %q after the older answer came back; want %q", got, want)
	}
}

// TestSegmentAndCampaignInBrowser: a manager builds a segment in the web app (contacts with
// an address at a company with a name), sees its live count — the server's count as they
// see contacts — saves it, creates a campaign with a template and sends it; the progress
// reaches 100%, the report shows what the real SMTP server received, once per address.
func TestSegmentAndCampaignInBrowser(t *testing.T) {
	t.Parallel()
	smtpd := outboxtest.NewServer(t, outboxtest.Options{NoTLS: true})
	env := []string{"RELATA_SMTP_HOST=" + smtpd.Host, "RELATA_SMTP_PORT=" + strconv.Itoa(smtpd.Port),
		"RELATA_SMTP_TLS=none", "RELATA_MAIL_FROM=news@example.com"}
	s := startServerEnv(t, t.TempDir(), env, exampleServeArgs...)
	tok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	if code := s.api(t, http.MethodPost, "/api/collections/email_templates/records", tok, map[string]any{
		"name": "spring-news", "category": "marketing", "object": "contacts",
		"subject": "Spring news for {{.record.full_name}}", "html": `<p>Hello {{.record.full_name}}</p><p><a href="https://example.com/spring">Offers</a></p>`,
	}, nil); code != 200 {
		t.Fatalf("create template = %d", code)
	}
	const filter = `email != "" && company.name != ""`
	var want struct {
		Count int `json:"count"`
	}
	if code := s.api(t, http.MethodPost, "/api/relata/segments/count", tok, map[string]any{"filter": filter}, &want); code != 200 || want.Count == 0 {
		t.Fatalf("count = %d %d", code, want.Count)
	}

	b := newBrowser(t)
	mgr := b.signIn(t, s, "manager@example.com")
	mgr.do(chromedp.EmulateViewport(1400, 900))
	mgr.open("/segments/new", "#segment-name")
	mgr.setInput("#segment-name", "Customers with a company")
	mgr.setInput(`.segment-builder select[aria-label="Filter field"]`, "email")
	mgr.setInput(`.segment-builder select[aria-label="Filter operator"]`, "set")
	mgr.do(chromedp.Click(chromedp.CSS("#add-filter")))
	mgr.setInput("#segment-group", "company")
	mgr.wait("the company fields", `[...document.querySelectorAll('.segment-builder select[aria-label="Filter field"] option')].some(o => o.value === 'domain')`)
	mgr.setInput(`.segment-builder select[aria-label="Filter field"]`, "name")
	mgr.setInput(`.segment-builder select[aria-label="Filter operator"]`, "set")
	mgr.do(chromedp.Click(chromedp.CSS("#add-filter")))
	mgr.wait("the live count", fmt.Sprintf(`document.querySelector('[data-testid=segment-live-count]').textContent.trim().startsWith('%d contact')`, want.Count))
	if got := eval[string](mgr, `document.querySelector('[data-testid=segment-filter]').textContent`); got != `email != "" && company.name != ""` {
		t.Errorf("the builder's filter = %q", got)
	}
	mgr.screenshot("segment-builder")
	mgr.do(chromedp.Click(chromedp.CSS("#save-segment")))
	mgr.wait("the saved segment", `/^#\/segments\/[a-z0-9]{15}$/.test(location.hash)`)

	mgr.open("/campaigns/new", "#campaign-name")
	mgr.setInput("#campaign-name", "Spring newsletter")
	mgr.wait("the templates", `!!document.querySelector('#campaign-template option[value="spring-news"]')`)
	mgr.setInput("#campaign-template", "spring-news")
	seg := eval[string](mgr, `[...document.querySelectorAll('#campaign-segment option')].find(o => o.textContent === 'Customers with a company')?.value || ''`)
	if seg == "" {
		mgr.fail("the segment is not offered")
	}
	mgr.setInput("#campaign-segment", seg)
	mgr.do(chromedp.Click(chromedp.CSS("#create-campaign")))
	mgr.wait("the campaign page", `!!document.querySelector('#send-campaign')`)
	mgr.do(chromedp.Click(chromedp.CSS("#send-campaign")))
	mgr.wait("the campaign sent", `document.querySelector('[data-testid=campaign-status]')?.textContent === 'sent' &&
		document.querySelector('[data-testid=campaign-progress]')?.getAttribute('aria-valuenow') === '100'`)

	// The outbox sends in the background; the page follows until nothing is in flight.
	var sent int
	deadline := time.Now().Add(time.Minute)
	for {
		msgs := smtpd.Messages()
		sent = 0
		seen := map[string]int{}
		for _, m := range msgs {
			subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if strings.HasPrefix(subject, "Spring news for") {
				sent++
				seen[m.To[0]]++
			}
		}
		for to, n := range seen {
			if n != 1 {
				t.Fatalf("%s received %d campaign emails", to, n)
			}
		}
		if sent > 0 && eval[bool](mgr, fmt.Sprintf(`document.querySelector('[data-testid=kpi-sent]')?.textContent === '%d' && !document.querySelector('[data-testid=campaign-progress]').textContent.includes('in the outbox')`, sent)) {
			break
		}
		if time.Now().After(deadline) {
			mgr.fail("the report does not show the %d emails the SMTP server received", sent)
		}
		time.Sleep(300 * time.Millisecond)
	}
	skipped := eval[int](mgr, `+document.querySelector('[data-testid=kpi-skipped]').textContent.replace(/\D/g, '')`)
	if sent+skipped > want.Count || sent == 0 {
		t.Errorf("%d sent + %d skipped of a %d-contact segment", sent, skipped, want.Count)
	}
	mgr.screenshot("campaign-report")
}
