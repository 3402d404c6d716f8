package hooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/campaigns"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// The example site's public forms (examples/sales/forms), on the default contacts, with the
// spam guard's timing and rate checks off so a test can post at once.
var publicForms = map[string]string{
	"newsletter.json": `{"slug": "newsletter", "title": "Our newsletter", "object": "contacts", "public": true,
	  "fields": [{"name": "full_name"}, {"name": "email", "required": true}],
	  "hidden": {"source": "website"},
	  "consent": {"text": "I want to receive the newsletter by email.", "version": "2026-12",
	    "purpose": "marketing_email", "basis": "consent", "doubleOptIn": true},
	  "dedupe": {"by": "email", "fill": ["full_name"]},
	  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`,
	"contact-us.json": `{"slug": "contact-us", "title": "Contact us", "object": "contacts", "public": true,
	  "fields": [{"name": "full_name"}, {"name": "email", "required": true}, {"name": "message", "required": true}],
	  "hidden": {"source": "website"},
	  "consent": {"text": "I agree that you may store my details and contact me about my request.", "version": "2026-01"},
	  "dedupe": {"by": "email", "update": ["message"], "fill": ["full_name"]},
	  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`,
}

// consentEnv serves the public forms, the confirmation route, the outbox (aimed at a real
// SMTP sink) and campaigns, with Relata's hooks; no worker runs (tests drain).
type consentEnv struct {
	app     *core.BaseApp
	srv     *httptest.Server
	smtp    *outboxtest.Server
	sender  *outbox.Sender
	camps   *campaigns.Service
	boss    *core.Record
	bossTok string
}

func newConsentEnv(t *testing.T) *consentEnv {
	t.Helper()
	dir := t.TempDir()
	for name, def := range publicForms {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(def), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	smtpd := outboxtest.NewServer(t, outboxtest.Options{NoTLS: true})
	sender, err := outbox.Register(app, outbox.Config{Registry: reg,
		SMTP: outbox.SMTP{Host: smtpd.Host, Port: smtpd.Port, TLS: outbox.TLSNone, Timeout: 5 * time.Second},
		From: "news@relata.test", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	segments.MustRegister(app, segments.Config{Interval: -1})
	camps, err := campaigns.Register(app, campaigns.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{dir}})
	srv := schemastest.Serve(t, app)
	sender.Stop()
	camps.Stop()
	t.Cleanup(sender.Stop)
	t.Cleanup(camps.Stop)
	app.Settings().Meta.AppURL = srv.URL // confirmation links point here
	e := &consentEnv{app: app, srv: srv, smtp: smtpd, sender: sender, camps: camps}
	e.boss, e.bossTok = schemastest.NewUser(t, app, "boss@example.com", "manager", "")
	schemastest.MustCreate(t, app, outbox.TemplatesCollection, map[string]any{
		"name": "offer", "category": "marketing", "object": "contacts",
		"subject": "Offer for {{.record.full_name}}", "html": "<p>Hello {{.record.full_name}}</p>"})
	return e
}

// post submits a public form as an anonymous visitor does: it reads the form's token from
// GET /api/relata/forms/{slug}, then posts the values with the consent given. It returns
// the answer's status and body.
func (e *consentEnv) post(t *testing.T, slug string, values map[string]any) (int, string) {
	t.Helper()
	var pf forms.PublicForm
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/forms/"+slug, "", nil, &pf); code != http.StatusOK {
		t.Fatalf("GET the %s form = %d", slug, code)
	}
	body := map[string]any{"_token": pf.Token, "_consent": true}
	for k, v := range values {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	res, err := e.srv.Client().Post(e.srv.URL+"/api/relata/forms/"+slug, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST the %s form = %d: %s", slug, res.StatusCode, out)
	}
	return res.StatusCode, string(out)
}

func (e *consentEnv) drain(t *testing.T) {
	t.Helper()
	if _, err := e.sender.Drain(); err != nil {
		t.Fatal(err)
	}
}

// contact creates a contact that already exists when the visitor posts.
func (e *consentEnv) contact(t *testing.T, name, addr string) *core.Record {
	t.Helper()
	return schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": name, "email": addr, "owner": e.boss.Id})
}

func (e *consentEnv) consents(t *testing.T, c *core.Record) []*core.Record {
	t.Helper()
	recs, err := e.app.FindAllRecords(forms.ConsentsCollection, dbx.HashExp{"object": "contacts", "record_id": c.Id})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// received returns the messages the SMTP sink received for addr whose subject starts with
// subject.
func (e *consentEnv) received(addr, subject string) []*outboxtest.Message {
	var out []*outboxtest.Message
	for _, m := range e.smtp.Messages() {
		if strings.HasPrefix(m.Header.Get("Subject"), subject) && slices.ContainsFunc(m.To, func(to string) bool { return strings.EqualFold(to, addr) }) {
			out = append(out, m)
		}
	}
	return out
}

const confirmSubject = "Please confirm your subscription"

// marketing queues a marketing email about contact c, sends it and returns its status.
func (e *consentEnv) marketing(t *testing.T, c *core.Record) string {
	t.Helper()
	rec, err := outbox.Enqueue(e.app, outbox.Message{To: []string{c.GetString("email")}, Category: outbox.Marketing,
		Subject: "News", Text: "x", Object: "contacts", RecordID: c.Id})
	if err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	rec, err = e.app.FindRecordById(outbox.Collection, rec.Id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.GetString("status")
}

// mailsCampaign sends a campaign with consent bases to a segment holding only c, and reports
// whether c received it.
func (e *consentEnv) mailsCampaign(t *testing.T, c *core.Record, bases []string) bool {
	t.Helper()
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{"name": "Only " + c.Id + " " + core.GenerateDefaultRandomId(), "kind": segments.Dynamic,
		"filter": `email = "` + c.GetString("email") + `"`, "owner": e.boss.Id})
	camp := schemastest.MustCreate(t, e.app, campaigns.Collection, map[string]any{"name": "Offer " + c.Id, "template": "offer",
		"segment": seg.Id, "owner": e.boss.Id, "status": "draft", "consent_bases": bases})
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/campaigns/"+camp.Id+"/send", e.bossTok, nil, nil); code != http.StatusOK {
		t.Fatalf("send the campaign = %d", code)
	}
	before := len(e.received(c.GetString("email"), "Offer for"))
	for i := 0; ; i++ {
		busy, err := e.camps.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !busy {
			break
		}
		if i > 100 {
			t.Fatal("the campaign worker never settles")
		}
	}
	e.drain(t)
	return len(e.received(c.GetString("email"), "Offer for")) > before
}

// TestPendingConsentStopsNoMail: a visitor who posts the double opt-in newsletter form with
// an existing contact's address leaves an unconfirmed consent on that contact; it must not
// stop their marketing mail (it would be a way to switch anyone's mail off), while a consent
// they withdrew still does.
func TestPendingConsentStopsNoMail(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	scenarios := []struct {
		name     string
		addr     string
		withdraw bool
		mailed   bool
	}{
		{"someone else's newsletter post, never confirmed", "ada@example.com", false, true},
		{"the contact withdrew the consent", "bob@example.com", true, false},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c := e.contact(t, "Victim", sc.addr)
			e.post(t, "newsletter", map[string]any{"full_name": "Attacker", "email": sc.addr})
			cs := e.consents(t, c)
			if len(cs) != 1 || !cs[0].GetBool("needs_confirmation") || cs[0].GetString("confirmed_at") != "" {
				t.Fatalf("want one unconfirmed consent on the contact, got %d", len(cs))
			}
			if sc.withdraw {
				cs[0].Set("withdrawn_at", time.Now().UTC())
				if err := e.app.Save(cs[0]); err != nil {
					t.Fatal(err)
				}
			}
			wantStatus := map[bool]string{true: outbox.StatusSent, false: outbox.StatusSuppressed}[sc.mailed]
			if got := e.marketing(t, c); got != wantStatus {
				t.Errorf("a marketing email about the contact: %s; want %s", got, wantStatus)
			}
			if got := e.mailsCampaign(t, c, nil); got != sc.mailed {
				t.Errorf("a campaign without consent bases mailed the contact: %v; want %v", got, sc.mailed)
			}
		})
	}
}

var confirmLink = regexp.MustCompile(`https?://\S+(/confirm/[A-Za-z0-9_.-]+)`)

// TestMatchedRecordConsentNeedsConfirmation: a form without double opt-in whose submission
// matches an existing contact cannot vouch for that contact's address (anyone can type it),
// so the consent it records there waits for the address's owner to confirm it, by the double
// opt-in email; a campaign that requires consent mails them only once they followed the
// link. A submission that creates the contact keeps the form's setting.
func TestMatchedRecordConsentNeedsConfirmation(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	grace := e.contact(t, "Grace", "grace@example.com")
	e.post(t, "contact-us", map[string]any{"full_name": "Attacker", "email": "grace@example.com", "message": "Sign me up"})
	e.post(t, "contact-us", map[string]any{"full_name": "Newt", "email": "newt@example.com", "message": "Hello"})
	newt, err := e.app.FindFirstRecordByData("contacts", "email", "newt@example.com")
	if err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	scenarios := []struct {
		name          string
		contact       *core.Record
		needs         bool
		confirmations int
	}{
		{"an existing contact", grace, true, 1},
		{"a new contact: the form's setting (no double opt-in)", newt, false, 0},
	}
	for _, sc := range scenarios {
		cs := e.consents(t, sc.contact)
		if len(cs) != 1 || cs[0].GetBool("needs_confirmation") != sc.needs || cs[0].GetString("confirmed_at") != "" {
			t.Errorf("%s: %d consents; want one with needs_confirmation=%v, unconfirmed", sc.name, len(cs), sc.needs)
		}
		if n := len(e.received(sc.contact.GetString("email"), confirmSubject)); n != sc.confirmations {
			t.Errorf("%s: %d confirmation emails; want %d", sc.name, n, sc.confirmations)
		}
	}

	if e.mailsCampaign(t, grace, []string{"consent"}) {
		t.Error(`a campaign with consent_bases ["consent"] mailed the contact before they confirmed`)
	}
	msgs := e.received("grace@example.com", confirmSubject)
	if len(msgs) != 1 {
		t.Fatalf("%d confirmation emails", len(msgs))
	}
	m := confirmLink.FindStringSubmatch(strings.ReplaceAll(msgs[0].Part("text/plain"), "=\r\n", ""))
	if m == nil {
		t.Fatalf("no confirmation link in:\n%s", msgs[0].Data)
	}
	res, err := e.srv.Client().Post(e.srv.URL+m[1], "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("confirm = %d", res.StatusCode)
	}
	if !e.mailsCampaign(t, grace, []string{"consent"}) {
		t.Error(`a campaign with consent_bases ["consent"] did not mail the contact after they confirmed`)
	}
}

// TestConfirmationNotRepeated: the double opt-in email cannot be used to mail someone over
// and over: posts for an address whose confirmation already waits (sent in the last day)
// send no other, a suppressed address gets none, and the poster cannot tell — every answer
// is the same and every consent is recorded. After a day without a click, a post sends one
// again.
func TestConfirmationNotRepeated(t *testing.T) {
	t.Parallel()
	e := newConsentEnv(t)
	if err := outbox.Suppress(e.app, "gone@example.com", outbox.ReasonBounce, "test"); err != nil {
		t.Fatal(err)
	}
	scenarios := []struct {
		name          string
		addr          string
		posts         int
		confirmations int
	}{
		{"three posts for one address", "lin@example.com", 3, 1},
		{"a suppressed address", "gone@example.com", 1, 0},
		{"another address", "max@example.com", 1, 1},
	}
	var answers []string
	for _, sc := range scenarios {
		for range sc.posts {
			code, body := e.post(t, "newsletter", map[string]any{"full_name": "Someone", "email": sc.addr})
			answers = append(answers, fmt.Sprint(code, " ", body))
		}
		e.drain(t)
		if n := len(e.received(sc.addr, confirmSubject)); n != sc.confirmations {
			t.Errorf("%s: %d confirmation emails; want %d", sc.name, n, sc.confirmations)
		}
		c, err := e.app.FindFirstRecordByData("contacts", "email", sc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(e.consents(t, c)); n != sc.posts {
			t.Errorf("%s: %d consents recorded; want %d", sc.name, n, sc.posts)
		}
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Errorf("the answers differ: %q and %q", answers[0], a)
		}
	}

	// A day later the waiting confirmations no longer hold a new one back.
	if _, err := e.app.DB().NewQuery("UPDATE consents SET created = {:t}").
		Bind(dbx.Params{"t": time.Now().UTC().Add(-25 * time.Hour).Format("2006-01-02 15:04:05.000Z")}).Execute(); err != nil {
		t.Fatal(err)
	}
	e.post(t, "newsletter", map[string]any{"full_name": "Someone", "email": "lin@example.com"})
	e.drain(t)
	if n := len(e.received("lin@example.com", confirmSubject)); n != 2 {
		t.Errorf("a post a day later: %d confirmation emails in all; want 2", n)
	}
}
