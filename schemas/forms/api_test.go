package forms_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// TestSubmitJSON is the happy path of the JSON endpoint: the contact, its consent and the
// submission log are stored together; hidden values are set.
func TestSubmitJSON(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, "contact")
	e.clock.Add(5 * time.Second)
	code, res, _ := e.post(t, "contact", map[string]any{
		"full_name": "  Ada Lovelace ", "email": "ada@example.com", "phone": "+44 20 7946 0000",
		"message": "Line one\r\nLine two", "_consent": true, "_token": tok,
	}, "User-Agent", "test-agent/1.0", "Origin", "https://www.example.com")
	if code != http.StatusOK || !res.OK || res.Message != "Thank you, we got your message." {
		t.Fatalf("submit = %d %+v", code, res)
	}
	c, err := e.app.FindFirstRecordByData("contacts", "email", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c.GetString("full_name") != "Ada Lovelace" || c.GetString("source") != "website" || c.GetString("message") != "Line one\nLine two" {
		t.Errorf("contact = %v", c.FieldsData())
	}
	if c.GetString("owner") != "" {
		t.Errorf("owner = %q; want none", c.GetString("owner"))
	}
	consent, err := e.app.FindFirstRecordByData(forms.ConsentsCollection, "record_id", c.Id)
	if err != nil {
		t.Fatalf("no consent record: %v", err)
	}
	for k, want := range map[string]string{
		"form": "contact", "object": "contacts", "contact": c.Id, "version": "v1",
		"text": "I agree that you store my details to answer me.", "client_ip": "127.0.0.1", "user_agent": "test-agent/1.0",
	} {
		if got := consent.GetString(k); got != want {
			t.Errorf("consent %s = %q; want %q", k, got, want)
		}
	}
	if consent.GetDateTime("given_at").IsZero() {
		t.Error("consent has no time")
	}
	sub, err := e.app.FindFirstRecordByData(forms.SubmissionsCollection, "record_id", c.Id)
	if err != nil {
		t.Fatalf("no submission record: %v", err)
	}
	if sub.GetString("action") != forms.ActionCreated || sub.GetString("consent") != consent.Id ||
		sub.GetString("origin") != "https://www.example.com" || sub.GetString("form") != "contact" {
		t.Errorf("submission = %v", sub.FieldsData())
	}
}

// TestBadInputs sends each kind of bad input: each gets a clear error for its key, and
// nothing is stored.
func TestBadInputs(t *testing.T) {
	e := newEnv(t)
	served := e.token(t, "contact")
	e.clock.Add(5 * time.Second)
	alice, err := e.app.FindAuthRecordByEmail("users", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	good := func(changes map[string]any) map[string]any {
		m := map[string]any{"full_name": "Ada", "email": "ada@example.com", "message": "Hello", "_consent": true, "_token": served}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	scenarios := []struct {
		name   string
		slug   string
		body   any
		status int
		key    string
		want   string
	}{
		{"missing required", "contact", good(map[string]any{"email": nil}), 400, "email", "is required"},
		{"blank required", "contact", good(map[string]any{"message": "   "}), 400, "message", "is required"},
		{"wrong type", "contact", good(map[string]any{"email": 42}), 400, "email", "must be text, not a number"},
		{"list for text", "contact", good(map[string]any{"full_name": []any{"Ada", "Bob"}}), 400, "full_name", "must be text, not a list"},
		{"invalid email", "contact", good(map[string]any{"email": "ada@"}), 400, "email", "must be a valid email address"},
		{"invalid phone", "contact", good(map[string]any{"phone": "call me"}), 400, "phone", "must be a phone number"},
		{"unknown field", "contact", good(map[string]any{"favourite_colour": "red"}), 400, "favourite_colour", "is not a field of this form"},
		{"owner is outside the form", "contact", good(map[string]any{"owner": alice.Id}), 400, "owner", "cannot be set through this form"},
		{"stage is outside the form", "contact", good(map[string]any{"lifecycle_stage": "customer"}), 400, "lifecycle_stage", "cannot be set through this form"},
		{"hidden field is outside the form", "contact", good(map[string]any{"source": "partner"}), 400, "source", "cannot be set through this form"},
		{"id is outside the form", "contact", good(map[string]any{"id": "aaaaaaaaaaaaaaa"}), 400, "id", "is not a field of this form"},
		{"over-long value", "contact", good(map[string]any{"full_name": strings.Repeat("a", 201)}), 400, "full_name", "must be at most 200 characters long (it has 201)"},
		{"over-long message", "contact", good(map[string]any{"message": strings.Repeat("é", 5001)}), 400, "message", "must be at most 5000 characters long"},
		{"script injection in a name", "contact", good(map[string]any{"full_name": "<script>alert(1)</script>"}), 400, "full_name", "must not contain HTML tags"},
		{"markup in a name", "contact", good(map[string]any{"full_name": `Ada <img src=x onerror=alert(1)>`}), 400, "full_name", "must not contain HTML tags"},
		{"control character", "contact", good(map[string]any{"message": "Hello\x00world"}), 400, "message", "must not contain control characters (found U+0000)"},
		{"escape character", "contact", good(map[string]any{"message": "Hello \x1b[31mred"}), 400, "message", "found U+001B"},
		{"line break in a name", "contact", good(map[string]any{"full_name": "Ada\nLovelace"}), 400, "full_name", "must be a single line"},
		{"bidi override", "contact", good(map[string]any{"full_name": "Ada \u202egnp.exe"}), 400, "full_name", "found U+202E"},
		{"consent missing", "contact", good(map[string]any{"_consent": nil}), 400, "_consent", "please tick the box"},
		{"consent refused", "contact", good(map[string]any{"_consent": false}), 400, "_consent", "please tick the box"},
		{"honeypot filled", "contact", good(map[string]any{"homepage": "http://spam.example"}), 400, "homepage", "must be left empty"},
		{"token missing", "contact", good(map[string]any{"_token": nil}), 400, "_token", "the form has expired or was not loaded from this site"},
		{"token forged", "contact", good(map[string]any{"_token": served[:len(served)-2] + "xx"}), 400, "_token", "the form has expired"},
		{"token of another form", "contact", good(map[string]any{"_token": e.token(t, "open")}), 400, "_token", "the form has expired"},
		{"too fast", "contact", good(map[string]any{"_token": e.token(t, "contact")}), 400, "_token", "sent too quickly"},
		{"not a JSON object", "contact", []byte(`["full_name"]`), 400, "_form", "must be one JSON object"},
		{"broken JSON", "contact", []byte(`{"full_name": "Ada"`), 400, "_form", "must be one JSON object"},
		{"too large", "limited", map[string]any{"full_name": strings.Repeat("a", 3000), "email": "big@example.com"}, 413, "_form", "too large (at most 2 KB)"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			code, res, _ := e.post(t, sc.slug, sc.body)
			if code != sc.status {
				t.Errorf("status = %d; want %d (%+v)", code, sc.status, res)
			}
			if got := res.Errors[sc.key]; !strings.Contains(got, sc.want) {
				t.Errorf("errors[%q] = %q; want %q (all: %v)", sc.key, got, sc.want, res.Errors)
			}
			if res.OK {
				t.Error("ok = true")
			}
			if got := e.stored(t, "contacts"); got != [3]int{0, 0, 0} {
				t.Errorf("stored (contacts, consents, submissions) = %v; want nothing", got)
			}
		})
	}
	blocked, err := e.svc.Blocked("contact")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{forms.BlockHoneypot: 1, forms.BlockBadToken: 3, forms.BlockTooFast: 1}
	for reason, n := range want {
		if blocked[reason] != n {
			t.Errorf("blocked %s = %d; want %d (all: %v)", reason, blocked[reason], n, blocked)
		}
	}
	if b, _ := e.svc.Blocked("limited"); b[forms.BlockTooLarge] != 1 {
		t.Errorf("blocked too_large = %v; want 1", b)
	}
}

func TestUnsupportedContentType(t *testing.T) {
	e := newEnv(t)
	res, err := e.srv.Client().Post(e.srv.URL+"/api/relata/forms/open", "text/plain", strings.NewReader("full_name=Ada"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("status = %d; want 415", res.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	send := func(i int) (int, response, http.Header) {
		return e.post(t, "limited", map[string]any{"full_name": "Ada", "email": "ada" + string(rune('a'+i)) + "@example.com"})
	}
	for i := range 2 {
		if code, res, _ := send(i); code != http.StatusOK {
			t.Fatalf("submission %d = %d %+v", i, code, res)
		}
	}
	code, res, h := send(2)
	if code != http.StatusTooManyRequests || !strings.Contains(res.Errors["_form"], "too many submissions from your address") {
		t.Fatalf("third submission in a minute = %d %+v; want 429", code, res)
	}
	if h.Get("Retry-After") == "" {
		t.Error("no Retry-After header")
	}
	if n := e.count(t, "contacts", ""); n != 2 {
		t.Errorf("contacts = %d; want 2 (the limited one is not stored)", n)
	}
	// A minute later the per-minute window is open again, but the hour allows 3 in all.
	e.clock.Add(time.Minute)
	if code, _, _ := send(3); code != http.StatusOK {
		t.Errorf("after a minute = %d; want 200", code)
	}
	e.clock.Add(time.Minute)
	if code, _, _ := send(4); code != http.StatusTooManyRequests {
		t.Errorf("fourth in an hour = %d; want 429", code)
	}
	if b, _ := e.svc.Blocked("limited"); b[forms.BlockRateLimited] != 2 {
		t.Errorf("blocked rate_limited = %v; want 2", b)
	}
	// Other forms count separately.
	if code, res, _ := e.post(t, "open", map[string]any{"full_name": "Ada", "email": "other@example.com"}); code != http.StatusOK {
		t.Errorf("another form = %d %+v", code, res)
	}
}

// TestDedupe: a second submission with the same email (typed in another case) updates the
// contact instead of creating a duplicate: update fields are replaced, fill fields only fill
// gaps. Stored emails are lower-cased by package hooks.
func TestDedupe(t *testing.T) {
	e := newEnv(t)
	existing := schemastest.MustCreate(t, e.app, "contacts", map[string]any{
		"full_name": "Ada L.", "email": "Ada@Example.com", "message": "Old message", "source": "referral",
	})
	tok := e.token(t, "contact")
	e.clock.Add(10 * time.Second)
	code, res, _ := e.post(t, "contact", map[string]any{
		"full_name": "Ada Lovelace", "email": "ada@example.COM", "phone": "+1 555 0100",
		"message": "New message", "_consent": true, "_token": tok,
	})
	if code != http.StatusOK {
		t.Fatalf("submit = %d %+v", code, res)
	}
	if n := e.count(t, "contacts", ""); n != 1 {
		t.Fatalf("contacts = %d; want 1 (no duplicate)", n)
	}
	c, _ := e.app.FindRecordById("contacts", existing.Id)
	for k, want := range map[string]string{
		"full_name": "Ada L.",          // fill: kept, it was set
		"phone":     "+1 555 0100",     // fill: it was empty
		"message":   "New message",     // update
		"source":    "referral",        // hidden values are for new records
		"email":     "ada@example.com", // stored lower-cased
	} {
		if got := c.GetString(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	sub, err := e.app.FindFirstRecordByData(forms.SubmissionsCollection, "record_id", existing.Id)
	if err != nil || sub.GetString("action") != forms.ActionUpdated {
		t.Errorf("submission = %v, %v; want action updated", sub, err)
	}
	if n := e.count(t, forms.ConsentsCollection, "contact = {:c}", map[string]any{"c": existing.Id}); n != 1 {
		t.Errorf("consents of the contact = %d; want 1", n)
	}
	// Without dedupe, the unique email is a clear per-field error.
	code, res, _ = e.post(t, "open", map[string]any{"full_name": "Ada", "email": "Ada@Example.com"})
	if code != http.StatusBadRequest || res.Errors["email"] != "is already registered" {
		t.Errorf("duplicate without dedupe = %d %+v", code, res)
	}
}

// TestPage renders the page: labels, client-side checks from the definition, the honeypot,
// the token, headers that allow embedding.
func TestPage(t *testing.T) {
	e := newEnv(t)
	code, html, h := e.get(t, "/forms/contact")
	if code != http.StatusOK {
		t.Fatalf("GET /forms/contact = %d", code)
	}
	contains(t, "the page", html,
		`<html lang="en" data-form="contact">`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<title>Contact us</title>`,
		`<label for="f-full_name">Your name<span class="rf-req" aria-hidden="true"> *</span></label>`,
		`<input type="text" id="f-full_name" name="full_name" value="" required minlength="1" maxlength="200" autocomplete="name">`,
		`<input type="email" id="f-email" name="email" value="" required maxlength="254" autocomplete="email" aria-describedby="f-email-help">`,
		`<p class="rf-help" id="f-email-help">We only use it to answer you.</p>`,
		`<input type="tel" id="f-phone" name="phone" value="" maxlength="32" pattern="\&#43;?[0-9][0-9 \(\).\-\/]{2,31}" autocomplete="tel">`,
		`<textarea id="f-message" name="message" rows="5" required maxlength="5000">`,
		`<input type="checkbox" id="f-_consent" name="_consent" value="on" required>`,
		`<a href="https://example.com/privacy" target="_blank" rel="noopener noreferrer">`,
		`<input type="text" id="f-homepage" name="homepage" value="" tabindex="-1" autocomplete="off">`,
		`<button type="submit" class="rf-submit">Submit</button>`,
	)
	if strings.Contains(html, `name="source"`) || strings.Contains(html, `name="owner"`) {
		t.Error("hidden and non-form fields must not be inputs")
	}
	if h.Get("X-Frame-Options") != "" {
		t.Errorf("X-Frame-Options = %q; the page must be embeddable", h.Get("X-Frame-Options"))
	}
	csp := h.Get("Content-Security-Policy")
	contains(t, "the CSP", csp, "frame-ancestors *", "default-src 'none'", "form-action 'self'", "script-src 'nonce-")
	if !strings.Contains(html, `<script nonce="`) {
		t.Error("the script carries no nonce")
	}
	pageToken(t, html)

	code, html, h = e.get(t, "/forms/inquiry?embed=1")
	if code != http.StatusOK {
		t.Fatalf("GET /forms/inquiry = %d", code)
	}
	contains(t, "the inquiry page", html,
		`<body class="rf-embed">`,
		`action="/forms/inquiry?embed=1" enctype="multipart/form-data"`,
		`<input type="url" id="f-website" name="website" value="" maxlength="2000" autocomplete="url">`,
		`<input type="number" id="f-budget" name="budget" value="" required min="0" max="1000000" step="any" inputmode="decimal">`,
		`<input type="date" id="f-start" name="start" value="">`,
		`<input type="datetime-local" id="f-call_at" name="call_at" value="">`,
		`<select id="f-size" name="size" required>`,
		`<option value="large">Large (50&#43;)</option>`,
		`<fieldset id="f-interests">`,
		`<input type="checkbox" id="f-interests-1" name="interests" value="email">`,
		`<input type="checkbox" id="f-newsletter" name="newsletter" value="on">`,
		`<input type="file" id="f-brief" name="brief" accept="text/plain">`,
		`pattern="[A-Z]{3}-[0-9]{2}"`,
		`<p class="rf-help" id="f-topics-help">Separate several with commas.</p>`,
	)
	contains(t, "the CSP", h.Get("Content-Security-Policy"), "frame-ancestors 'self' https://www.example.com", "form-action 'self' https://www.example.com")
	if code, _, _ := e.get(t, "/forms/nope"); code != http.StatusNotFound {
		t.Errorf("unknown form = %d; want 404", code)
	}
}

// TestPageErrors posts the page as a browser without JavaScript: errors are shown beside
// their inputs, linked with aria-describedby and from a summary, the first is focused, and
// everything typed comes back escaped.
func TestPageErrors(t *testing.T) {
	e := newEnv(t)
	_, html, _ := e.get(t, "/forms/contact")
	tok := pageToken(t, html)
	e.clock.Add(5 * time.Second)
	script := `<script>alert("x")</script>`
	code, html, _ := e.postForm(t, "contact", url.Values{
		"_token": {tok}, "full_name": {"Ada"}, "email": {"not-an-email"}, "message": {script}, "_consent": {"on"},
	})
	if code != http.StatusBadRequest {
		t.Fatalf("status = %d; want 400", code)
	}
	contains(t, "the page", html,
		`<title>Error: Contact us</title>`,
		`<div class="rf-summary" id="rf-summary" role="alert"`,
		`<a href="#f-email">Email: must be a valid email address, such as name@example.com</a>`,
		`aria-describedby="f-email-help f-email-error" aria-invalid="true" autofocus>`,
		`<p class="rf-error" id="f-email-error"><span class="rf-sr">Error: </span>must be a valid email address`,
		`value="not-an-email"`,
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</textarea>`,
		`name="_token" value="`+tok+`"`,
		`<input type="checkbox" id="f-_consent" name="_consent" value="on" checked required>`,
	)
	if strings.Contains(html, script) {
		t.Error("the submitted script is in the page unescaped")
	}
	if n := e.count(t, "contacts", ""); n != 0 {
		t.Fatalf("contacts = %d; want 0", n)
	}

	// The same text in a valid submission is stored exactly as written.
	code, html, _ = e.postForm(t, "contact", url.Values{
		"_token": {tok}, "full_name": {"Ada"}, "email": {"ada@example.com"}, "message": {script}, "_consent": {"on"},
	})
	if code != http.StatusOK {
		t.Fatalf("status = %d:\n%s", code, html)
	}
	contains(t, "the success page", html, `<div class="rf-success" id="rf-success" role="status" tabindex="-1">`, "Thank you, we got your message.")
	c, err := e.app.FindFirstRecordByData("contacts", "email", "ada@example.com")
	if err != nil || c.GetString("message") != script {
		t.Errorf("stored message = %q (%v); want it verbatim", c.GetString("message"), err)
	}

	// Consent not ticked: the error is on the checkbox.
	code, html, _ = e.postForm(t, "contact", url.Values{"_token": {tok}, "full_name": {"Bob"}, "email": {"bob@example.com"}, "message": {"Hi"}})
	if code != http.StatusBadRequest {
		t.Fatalf("status = %d", code)
	}
	contains(t, "the page", html, `<a href="#f-_consent">Consent: please tick the box to give your consent</a>`,
		`aria-invalid="true" aria-describedby="f-_consent-error" autofocus>`)

	// Too fast: the page keeps the token, so sending again after a wait works.
	_, html, _ = e.get(t, "/forms/contact")
	tok = pageToken(t, html)
	vals := url.Values{"_token": {tok}, "full_name": {"Cy"}, "email": {"cy@example.com"}, "message": {"Hi"}, "_consent": {"on"}}
	code, html, _ = e.postForm(t, "contact", vals)
	if code != http.StatusBadRequest || !strings.Contains(html, "sent too quickly") || pageToken(t, html) != tok {
		t.Fatalf("too fast = %d:\n%s", code, html)
	}
	e.clock.Add(3 * time.Second)
	if code, html, _ = e.postForm(t, "contact", vals); code != http.StatusOK {
		t.Fatalf("after waiting = %d:\n%s", code, html)
	}
}

// TestPageTypes submits every field type through the page's form data, with a file.
func TestPageTypes(t *testing.T) {
	e := newEnv(t)
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range map[string][]string{
		"subject": {"Rollout"}, "email": {"ops@example.com"}, "phone": {"+49 30 1234567"}, "website": {"https://example.com"},
		"budget": {"2500.50"}, "start": {"2026-12-01"}, "call_at": {"2026-12-02T09:30"}, "size": {"large"},
		"interests": {"crm", "forms"}, "newsletter": {"on"}, "topics": {"pricing, onboarding"}, "details": {"Some\r\ndetails"},
		"code": {"ABC-12"},
	} {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	fw, _ := w.CreateFormFile("brief", "brief.txt")
	_, _ = fw.Write([]byte("plain text brief"))
	w.Close()
	res, err := noRedirect(e.srv).Post(e.srv.URL+"/forms/inquiry", w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://www.example.com/thanks" {
		t.Fatalf("submit = %d %q; want a redirect to the thank-you page", res.StatusCode, res.Header.Get("Location"))
	}
	r, err := e.app.FindFirstRecordByData("inquiries", "subject", "Rollout")
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := e.app.FindAuthRecordByEmail("users", "alice@example.com")
	checks := map[string]any{
		"budget": 2500.5, "size": "large", "newsletter": true, "details": "Some\ndetails", "code": "ABC-12",
		"owner": alice.Id, "website": "https://example.com",
	}
	for k, want := range checks {
		if got := r.Get(k); got != want {
			t.Errorf("%s = %#v; want %#v", k, got, want)
		}
	}
	if got := r.GetStringSlice("interests"); strings.Join(got, ",") != "crm,forms" {
		t.Errorf("interests = %v", got)
	}
	if got := r.GetDateTime("call_at").String(); got != "2026-12-02 09:30:00.000Z" {
		t.Errorf("call_at = %s", got)
	}
	if got := r.GetDateTime("received"); got.IsZero() || time.Since(got.Time()) > 48*time.Hour {
		t.Errorf("hidden received = %v; want today", got)
	}
	if got := r.GetString("topics"); got != `["pricing","onboarding"]` {
		t.Errorf("topics = %s", got)
	}
	if got := r.GetStringSlice("brief"); len(got) != 1 || !strings.HasPrefix(got[0], "brief_") {
		t.Errorf("brief = %v; want the uploaded file", got)
	}

	// Wrong values of each type come back per field.
	code, res2, _ := e.post(t, "inquiry", map[string]any{
		"subject": "X", "budget": -1, "size": "huge", "interests": []any{"crm", "crm"}, "start": "next week",
		"website": "javascript://example.com/%0aalert(1)", "code": "abc", "newsletter": "yes", "brief": "x",
	})
	if code != http.StatusBadRequest {
		t.Fatalf("bad values = %d", code)
	}
	for k, want := range map[string]string{
		"budget": "must be at least 0", "size": `"huge" is not one of the choices (small, medium, large)`,
		"interests": "lists the same value twice", "start": "must be a date (YYYY-MM-DD)",
		"website": "must be a web address starting with http:// or https://", "code": "is not in the expected format",
		"newsletter": "must be true or false, not text", "brief": "must be uploaded as a file",
	} {
		if got := res2.Errors[k]; !strings.Contains(got, want) {
			t.Errorf("errors[%s] = %q; want %q", k, got, want)
		}
	}
	if n := e.count(t, "inquiries", ""); n != 1 {
		t.Errorf("inquiries = %d; want 1", n)
	}
}

// TestFileNameNotUTF8: a browser that sends a file's name in its local encoding (Latin-1
// "Angebot \xe4.txt") gets its submission stored, not a 500 from the file storage, which
// takes only UTF-8 names.
func TestFileNameNotUTF8(t *testing.T) {
	e := newEnv(t)
	for i, name := range []string{"Angebot \xe4.txt", "\xff.txt", "brief.tx\xff"} {
		subject := fmt.Sprintf("Latin-1 file %d", i)
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		_ = w.WriteField("subject", subject)
		_ = w.WriteField("size", "small")
		_ = w.WriteField("budget", "100")
		fw, _ := w.CreateFormFile("brief", name)
		_, _ = fw.Write([]byte("plain text brief"))
		w.Close()
		res, err := noRedirect(e.srv).Post(e.srv.URL+"/forms/inquiry", w.FormDataContentType(), &body)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("file %q: submit = %d; want a redirect to the thank-you page\n%s", name, res.StatusCode, b)
		}
		r, err := e.app.FindFirstRecordByData("inquiries", "subject", subject)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.GetStringSlice("brief"); len(got) != 1 {
			t.Errorf("file %q: brief = %v; want the uploaded file", name, got)
		}
	}
}

// TestDefinitionEndpoint: sites that post their own HTML read the form, its JSON Schema and
// a token, then post JSON from another origin (CORS).
func TestDefinitionEndpoint(t *testing.T) {
	e := newEnv(t)
	var def forms.PublicForm
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/forms/contact", "", nil, &def); code != http.StatusOK {
		t.Fatalf("GET = %d", code)
	}
	if def.Slug != "contact" || len(def.Fields) != 4 || def.Fields[1].Type != "email" || !def.Fields[1].Required ||
		def.Honeypot != "homepage" || def.MinFillSeconds != 3 || def.Token == "" || def.Consent == nil || !def.Consent.Required {
		t.Errorf("definition = %+v", def)
	}
	props, _ := def.Schema["properties"].(map[string]any)
	name, _ := props["full_name"].(map[string]any)
	if def.Schema["additionalProperties"] != false || name["maxLength"] != 200.0 || props["owner"] != nil {
		t.Errorf("schema = %v", def.Schema)
	}
	if got := fmt.Sprint(def.Schema["required"]); got != "[full_name email message _consent _token]" {
		t.Errorf("required = %s", got)
	}
	e.clock.Add(4 * time.Second)
	code, res, h := e.post(t, "contact", map[string]any{
		"full_name": "Ada", "email": "ada@example.com", "message": "Hi", "_consent": true, "_token": def.Token,
	}, "Origin", "https://anywhere.example")
	if code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("cross-origin submit = %d %+v, ACAO %q", code, res, h.Get("Access-Control-Allow-Origin"))
	}

	preflight := func(slug, origin string) http.Header {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/api/relata/forms/"+slug, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Errorf("preflight %s = %d", slug, res.StatusCode)
		}
		return res.Header
	}
	if h := preflight("inquiry", "https://www.example.com"); h.Get("Access-Control-Allow-Origin") != "https://www.example.com" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from an allowed origin: %v", h)
	}
	if h := preflight("inquiry", "https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin allowed: %v", h)
	}
}

func TestPrivateForm(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/forms/private", "/api/relata/forms/private", "/forms/private/embed.js"} {
		if code, _, _ := e.get(t, path); code != http.StatusNotFound {
			t.Errorf("anonymous GET %s = %d; want 404", path, code)
		}
	}
	if code, _, _ := e.post(t, "private", map[string]any{"full_name": "Ada"}); code != http.StatusNotFound {
		t.Errorf("anonymous POST = %d; want 404", code)
	}
	_, tok := schemastest.NewUser(t, e.app, "rep@example.com", "sales", "")
	if code, _, _ := e.get(t, "/api/relata/forms/private", "Authorization", tok); code != http.StatusOK {
		t.Errorf("signed-in GET = %d; want 200", code)
	}
	if code, res, _ := e.post(t, "private", map[string]any{"full_name": "Ada"}, "Authorization", tok); code != http.StatusOK {
		t.Errorf("signed-in POST = %d %+v", code, res)
	}
}

func TestEmbedScript(t *testing.T) {
	e := newEnv(t)
	code, js, h := e.get(t, "/forms/contact/embed.js")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") {
		t.Fatalf("embed.js = %d %s", code, h.Get("Content-Type"))
	}
	contains(t, "embed.js", js, `var slug = "contact";`, `frame.title = "Contact us";`, `"/forms/" + encodeURIComponent(slug) + "?embed=1"`, "ev.origin !== origin")
}
