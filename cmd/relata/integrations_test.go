package main_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relata/relata/schemas/webhooks"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestMultiFactorSignIn (issue 16 item 7): with `serve --mfa admins`, an admin signs in with
// her password and then the code a real SMTP server received; a sales user signs in with her
// password alone until she turns the code on for herself on the sign-in page, and then needs
// it too; a wrong code is refused.
func TestMultiFactorSignIn(t *testing.T) {
	t.Parallel()
	smtpd := outboxtest.NewServer(t, outboxtest.Options{NoTLS: true})
	env := []string{"RELATA_SMTP_HOST=" + smtpd.Host, "RELATA_SMTP_PORT=" + strconv.Itoa(smtpd.Port),
		"RELATA_SMTP_TLS=none", "RELATA_MAIL_FROM=crm@example.com"}
	s := startServerEnv(t, t.TempDir(), env, append([]string{"--mfa", "admins"}, exampleServeArgs...)...)
	b := newBrowser(t)
	codeRe := regexp.MustCompile(`\b\d{6,10}\b`)
	codeFor := func(to string, after int) string {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			msgs := smtpd.Messages()
			for _, m := range msgs[min(after, len(msgs)):] {
				if strings.Contains(strings.Join(m.To, ","), to) {
					if c := codeRe.FindString(m.Part("text/plain") + m.Part("text/html")); c != "" {
						return c
					}
				}
			}
		}
		t.Fatalf("no sign-in code reached %s; %d messages", to, len(smtpd.Messages()))
		return ""
	}
	// password opens a fresh browser context and submits email and password.
	password := func(email string) *session {
		ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		ss := &session{t: t, ctx: ctx, base: s.url}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 900)); err != nil {
			t.Fatal(err)
		}
		ss.do(chromedp.Navigate(s.url+"/#/"),
			chromedp.WaitVisible(chromedp.CSS("#login-email")),
			chromedp.SendKeys(chromedp.CSS("#login-email"), email),
			chromedp.SendKeys(chromedp.CSS("#login-password"), "relata-demo-1"),
			chromedp.Click(chromedp.CSS("form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".sidebar, [data-testid=mfa]")),
		)
		return ss
	}
	enter := func(ss *session, code string) {
		ss.do(chromedp.Evaluate[chromedp.Void](`(() => { const el = document.querySelector('#login-code'); el.value = '';
			el.dispatchEvent(new Event('input', { bubbles: true })); })()`),
			chromedp.SendKeys(chromedp.CSS("#login-code"), code),
			chromedp.Click(chromedp.CSS("[data-testid=mfa] button[type=submit]")))
	}

	before := len(smtpd.Messages())
	admin := password("admin@example.com")
	admin.wait("an admin asked for a code under --mfa admins", `!!document.querySelector('[data-testid=mfa]')`)
	code := codeFor("admin@example.com", before)
	enter(admin, "00000000"[:len(code)])
	admin.wait("the wrong code refused", `document.body.innerText.includes('That code is wrong or has expired')`)
	enter(admin, code)
	admin.do(chromedp.WaitVisible(chromedp.CSS(".sidebar")))

	alice := password("alice@example.com")
	alice.wait("a sales user without the code turned on signed in with her password", `!!document.querySelector('.sidebar')`)
	alice.open("/tokens", `[data-testid=mfa-toggle]`)
	alice.do(chromedp.Click(chromedp.CSS("[data-testid=mfa-toggle]")))
	alice.wait("the code turned on", `document.body.innerText.includes('You will be asked for a code')`)
	before = len(smtpd.Messages())
	again := password("alice@example.com")
	again.wait("alice, who turned the code on, asked for it", `!!document.querySelector('[data-testid=mfa]')`)
	enter(again, codeFor("alice@example.com", before))
	again.do(chromedp.WaitVisible(chromedp.CSS(".sidebar")))

	// Over the API too: a password alone gets no session token for an admin.
	var res map[string]any
	if code := s.api(t, http.MethodPost, "/api/collections/users/auth-with-password", "",
		map[string]any{"identity": "manager@example.com", "password": "relata-demo-1"}, &res); code != 200 {
		t.Errorf("a manager's password sign-in = %d; want 200 (MFA is for admins)", code)
	}
	if code := s.api(t, http.MethodPost, "/api/collections/users/auth-with-password", "",
		map[string]any{"identity": "admin@example.com", "password": "relata-demo-1"}, &res); code != 401 || res["mfaId"] == nil {
		t.Errorf("an admin's password sign-in = %d %v; want 401 with an mfaId", code, res)
	}
}

// TestAPITokensInBrowser (issue 16 item 7): alice makes a read-only deals token in the app,
// sees it once, uses it over HTTP (reads her deals, cannot write), sees its last use, and
// revokes it; the revoked token is refused at once.
func TestAPITokensInBrowser(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	b := newBrowser(t)
	alice := b.signIn(t, s, "alice@example.com")
	alice.do(chromedp.EmulateViewport(1400, 900))
	alice.open("/tokens", `[data-testid=token-form]`)
	alice.do(chromedp.SendKeys(chromedp.CSS("#token-name"), "Spreadsheet sync"),
		chromedp.Click(chromedp.CSS(`[data-testid=token-form] fieldset input[type=checkbox]`)), // the first object
		chromedp.Click(chromedp.CSS(`[data-testid=token-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=token-value]`)))
	token := eval[string](alice, `document.querySelector('[data-testid=token-value]').textContent`)
	// The list reloads after the token is shown: wait for its row.
	alice.wait("the token's row", `!!document.querySelector('[data-testid=tokens] tbody tr td:nth-child(4)')`)
	object := eval[string](alice, `document.querySelector('[data-testid=tokens] tbody tr td:nth-child(4)').textContent`)
	if !strings.HasPrefix(token, "rlt_") || strings.Contains(object, ",") || object == "all" {
		alice.fail("token %q for %q", token, object)
	}
	var l struct {
		TotalItems int `json:"totalItems"`
	}
	if code := s.api(t, http.MethodGet, "/api/collections/"+object+"/records", "Bearer "+token, nil, &l); code != 200 {
		t.Fatalf("read %s with the token = %d", object, code)
	}
	if code := s.api(t, http.MethodPost, "/api/collections/"+object+"/records", "Bearer "+token, map[string]any{"name": "x"}, nil); code != 403 {
		t.Errorf("a read-only token writes: %d; want 403", code)
	}
	alice.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid=tokens]`)))
	alice.wait("the last use shown", `!document.querySelector('[data-testid=tokens] tbody tr td:nth-child(5)').textContent.includes('never')`)
	alice.screenshot("tokens")
	alice.do(clickSel(`[data-testid=revoke]`))
	alice.do(clickSel(`[data-testid=confirm-revoke]`))
	alice.wait("the token gone", `!document.querySelector('[data-testid=tokens]')`)
	if code := s.api(t, http.MethodGet, "/api/collections/"+object+"/records", "Bearer "+token, nil, nil); code != 401 {
		t.Errorf("a revoked token = %d; want 401", code)
	}
}

// TestIncomingWebhookInBrowser (issue 16 item 7): the admin makes a webhook that creates
// contacts as alice, copies its secret, and a signed delivery creates alice's contact and is
// counted on the page.
func TestIncomingWebhookInBrowser(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	b := newBrowser(t)
	admin := b.signIn(t, s, "admin@example.com")
	admin.do(chromedp.EmulateViewport(1400, 900))
	admin.open("/webhooks", `[data-testid=webhook-form]`)
	admin.do(chromedp.SendKeys(chromedp.CSS("#webhook-name"), "Shop signups"),
		chromedp.SendKeys(chromedp.CSS("#webhook-slug"), "shop"),
		chromedp.SendKeys(chromedp.CSS("#webhook-max"), "500"))
	admin.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const set = (sel, v) => { const el = document.querySelector(sel); el.value = v; el.dispatchEvent(new Event('change', { bubbles: true })); };
		set('#webhook-object', 'contacts');
	})()`))
	admin.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const set = (el, v, ev) => { el.value = v; el.dispatchEvent(new Event(ev, { bubbles: true })); };
		set(document.querySelector('#webhook-mode'), 'create', 'change');
		const alice = [...document.querySelectorAll('#webhook-runas option')].find((o) => o.textContent.startsWith('Alice'));
		set(document.querySelector('#webhook-runas'), alice.value, 'change');
		set(document.querySelector('[data-testid=webhook-mapping] select'), 'email', 'change');
	})()`))
	admin.wait("the mapping row", `document.querySelector('[data-testid=webhook-mapping] input').value === '/email'`)
	admin.do(clickSel(`[data-testid=webhook-mapping] button`))
	admin.wait("a second mapping row", `document.querySelectorAll('[data-testid=webhook-mapping] select').length === 2`)
	admin.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const el = document.querySelectorAll('[data-testid=webhook-mapping] select')[1];
		el.value = 'full_name'; el.dispatchEvent(new Event('change', { bubbles: true }));
	})()`))
	admin.wait("the second mapping row", `document.querySelectorAll('[data-testid=webhook-mapping] input')[1].value === '/full_name'`)
	admin.do(clickSel(`[data-testid=webhook-form] button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhook-secret-value]`)))
	secret := eval[string](admin, `document.querySelector('[data-testid=webhook-secret-value]').textContent`)
	body := []byte(`{"email": "shopper@shop.example", "full_name": "Sam Shopper"}`)
	at := time.Now()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/relata/hooks/shop", strings.NewReader(string(body)))
	req.Header.Set("X-Relata-Timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("X-Relata-Signature", webhooks.Sign(secret, at, body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("signed delivery = %d %s", res.StatusCode, answer)
	}
	aliceTok, _ := s.login(t, "users", "alice@example.com", "relata-demo-1")
	var l struct{ TotalItems int }
	s.api(t, http.MethodGet, `/api/collections/contacts/records?filter=(email="shopper@shop.example")`, aliceTok, nil, &l)
	if l.TotalItems != 1 {
		t.Errorf("alice sees %d contacts from the webhook; want 1 (hers)", l.TotalItems)
	}
	adminTok, _ := s.login(t, "users", "admin@example.com", "relata-demo-1")
	var hooks struct {
		Items []struct {
			MaxPerDay int `json:"max_per_day"`
		}
	}
	s.api(t, http.MethodGet, `/api/collections/incoming_webhooks/records?filter=(slug="shop")`, adminTok, nil, &hooks)
	if len(hooks.Items) != 1 || hooks.Items[0].MaxPerDay != 500 {
		t.Errorf("the webhook made in the form: %+v; want max_per_day 500", hooks.Items)
	}
	admin.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhooks]`)))
	admin.wait("the delivery counted", `document.querySelector('[data-testid=webhooks] tbody tr td:nth-child(5)').textContent === '1'`)
	admin.screenshot("webhooks")
}
