package workflows_test

import (
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// mailConfig aims a sender at a test SMTP server, ignoring the environment.
func mailConfig(e *env, srv *outboxtest.Server) outbox.Config {
	return outbox.Config{
		Registry: e.reg,
		SMTP:     outbox.SMTP{Host: srv.Host, Port: srv.Port, TLS: outbox.TLSStartTLS, RootCAs: srv.CertPool, Timeout: 5 * time.Second},
		From:     "crm@relata.test", FromName: "Relata",
		Getenv: func(string) string { return "" },
	}
}

const welcomeWorkflow = `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
  "actions": [{"type": "send_email", "to": "email", "template": "welcome"}]}`

func TestNewContactWelcomeEmailIsDeliveredOnce(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	srv := outboxtest.NewServer(t, outboxtest.Options{})
	sender := outbox.MustRegister(e.app, mailConfig(e, srv))
	schemastest.MustCreate(t, e.app, outbox.TemplatesCollection, map[string]any{"name": "welcome", "object": "contacts",
		"subject": "Welcome, {{.record.full_name}}",
		"html":    `<p>Hello {{.recipient.name}}, {{.record.owner.name}} will call you.</p>`})
	e.save(t, welcomeWorkflow)

	names := map[string]string{"ada@example.com": "Ada <Lovelace>", "bea@example.com": "Bea", "cy@example.com": "Cy"}
	for addr, name := range names {
		if code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": name, "email": addr}); code != 200 {
			t.Fatalf("create contact: %d %v", code, out)
		}
	}
	e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok, map[string]any{"full_name": "No Mail"})
	e.drain(t)
	if n, err := sender.Drain(); n != 3 || err != nil {
		t.Fatalf("sender handled %d, %v; want 3", n, err)
	}
	// Running everything again sends nothing more.
	e.drain(t)
	if n, err := sender.Drain(); n != 0 || err != nil {
		t.Fatalf("second drain handled %d, %v; want 0", n, err)
	}
	msgs := srv.Messages()
	var got []string
	for _, m := range msgs {
		got = append(got, m.To...)
		name := names[m.To[0]]
		if subj, _ := decodeWord(m.Header.Get("Subject")); subj != "Welcome, "+name {
			t.Errorf("subject %q; want %q", subj, "Welcome, "+name)
		}
		html := m.Part("text/html")
		wantHTML := "<p>Hello " + strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(name) + ", alice@example.com will call you.</p>"
		if html != wantHTML {
			t.Errorf("html = %q; want %q", html, wantHTML)
		}
		if text := m.Part("text/plain"); !strings.HasPrefix(text, "Hello "+name+", alice@example.com") {
			t.Errorf("text = %q", text)
		}
	}
	slices.Sort(got)
	if want := []string{"ada@example.com", "bea@example.com", "cy@example.com"}; !slices.Equal(got, want) {
		t.Fatalf("delivered to %v; want exactly once each to %v", got, want)
	}
	if n := e.count(t, "activities", `type = "email" && done = true && contact != ""`); n != 3 {
		t.Errorf("%d email activities on contact timelines; want 3", n)
	}
}

func TestQueuedEmailSurvivesARestart(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	srv := outboxtest.NewServer(t, outboxtest.Options{})
	schemastest.MustCreate(t, e.app, outbox.TemplatesCollection, map[string]any{"name": "welcome", "subject": "Welcome", "text": "Hi"})
	e.save(t, welcomeWorkflow)
	e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok, map[string]any{"full_name": "Ada", "email": "ada@example.com"})
	e.drain(t) // queued; the process dies before any sender ran

	// A new process on the same data directory sends it, once.
	app2 := schemastest.OpenApp(t, e.app.DataDir())
	cfg := mailConfig(e, srv)
	cfg.Registry = nil
	s2 := outbox.MustRegister(app2, cfg)
	if n, err := s2.Drain(); n != 1 || err != nil {
		t.Fatalf("after the restart: %d, %v; want 1", n, err)
	}
	s1 := outbox.MustRegister(e.app, mailConfig(e, srv))
	if n, err := s1.Drain(); n != 0 || err != nil {
		t.Fatalf("the old process sent %d more, %v", n, err)
	}
	e.drain(t)
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server received %d emails; want 1", n)
	}
}

func TestSendEmailTemplateRendersAsTheRunAsUser(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	schemastest.MustCreate(t, e.app, outbox.TemplatesCollection, map[string]any{"name": "deal-news", "object": "deals",
		"category": "marketing", "subject": "{{.record.name}}", "text": "{{.record.name}} by {{.user.name}}"})
	e.save(t, `{"name": "deal-news", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
	  "runAs": "alice@example.com",
	  "actions": [{"type": "send_email", "to": "news@example.com", "template": "deal-news", "subject": "=\"News: \" + record.name"}]}`)
	for _, owner := range []string{e.alice.Id, e.bob.Id} {
		if code, out := e.api(t, http.MethodPost, "/api/collections/deals/records", e.mgrTok,
			map[string]any{"name": "Deal of " + owner, "stage": "lead", "owner": owner}); code != 200 {
			t.Fatalf("create deal: %d %v", code, out)
		}
	}
	e.drain(t)
	mails, err := e.app.FindAllRecords(outbox.Collection)
	if err != nil || len(mails) != 1 {
		t.Fatalf("emails = %d, %v; want 1 (alice may not view bob's deal)", len(mails), err)
	}
	m := mails[0]
	if m.GetString("subject") != "News: Deal of "+e.alice.Id || m.GetString("text") != "Deal of "+e.alice.Id+" by alice@example.com" ||
		m.GetString("category") != outbox.Marketing || m.GetString("template") != "deal-news" {
		t.Errorf("email = %v", m.FieldsData())
	}
	failed := e.runs(t, `status = "failed"`)
	if len(failed) != 1 || !strings.Contains(failed[0].GetString("error"), "not allowed to view") {
		t.Errorf("failed runs = %d; want bob's deal refused for alice", len(failed))
	}
}

func TestSendEmailRefusesHeaderInjection(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "echo", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "send_email", "to": "email", "subject": "=record.message", "text": "x"}]}`)
	e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
		map[string]any{"full_name": "Eve", "email": "eve@example.com", "message": "Hi\r\nBcc: victim@example.com"})
	e.drain(t)
	if n := e.count(t, outbox.Collection, "id != ''"); n != 0 {
		t.Errorf("%d emails queued; want none", n)
	}
	failed := e.runs(t, `status = "failed"`)
	if len(failed) != 1 || !strings.Contains(failed[0].GetString("error"), "line break") {
		t.Errorf("want the run failed for the line break, got %d failed runs", len(failed))
	}
}

func decodeWord(s string) (string, error) {
	return new(mime.WordDecoder).DecodeHeader(s)
}

// The recipient's name is the recipient's own: a contact's own name for its "email", the
// user's name for an owner, the related record's title for "buyer" or "buyer_email"; never
// the title of the deal that triggered the mail.
func TestSendEmailNamesTheRecipient(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	deals, err := e.app.FindCollectionByNameOrId("deals")
	if err != nil {
		t.Fatal(err)
	}
	contacts, _ := e.app.FindCollectionByNameOrId("contacts")
	deals.Fields.Add(&core.RelationField{Name: "buyer", CollectionId: contacts.Id, MaxSelect: 1},
		&core.EmailField{Name: "buyer_email"}, &core.EmailField{Name: "notify_email"})
	if err := e.app.Save(deals); err != nil { // as an admin would in the dashboard
		t.Fatal(err)
	}
	if _, err := e.app.DB().Update("users", dbx.Params{"name": "Alice Archer"}, dbx.HashExp{"id": e.alice.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	buyer := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Bruno Buyer", "email": "bruno@example.com", "owner": e.alice.Id})
	tests := []struct{ to, want string }{
		{"owner", `"Alice Archer" <alice@example.com>`},
		{"buyer", `"Bruno Buyer" <bruno@example.com>`},
		{"buyer_email", `"Bruno Buyer" <other-address@example.com>`},
		{"notify_email", `notify@example.com`},
		{`="lit@example.com"`, `lit@example.com`},
		// a CRM user's address, written as it is, is shown with the user's own name
		{"alice@example.com", `"Alice Archer" <alice@example.com>`},
	}
	for i, tt := range tests {
		e.save(t, fmt.Sprintf(`{"name": "mail-%d", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
		  "actions": [{"type": "send_email", "to": %q, "subject": "x", "text": "y"}]}`, i, tt.to))
	}
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "12 Elm Street", "stage": "lead", "owner": e.alice.Id,
		"buyer": buyer.Id, "buyer_email": "other-address@example.com", "notify_email": "notify@example.com"})
	e.drain(t)
	if failed := e.runs(t, `status != "succeeded"`); len(failed) != 0 {
		t.Fatalf("run failed: %s", failed[0].GetString("error"))
	}
	mails, err := e.app.FindAllRecords(outbox.Collection)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range mails {
		got = append(got, m.GetStringSlice("to")...)
	}
	for _, tt := range tests {
		if !slices.Contains(got, tt.want) {
			t.Errorf("to %s: no email to %s among %q", tt.to, tt.want, got)
		}
	}
	if s := strings.Join(got, " "); strings.Contains(s, "Elm") {
		t.Errorf("the deal's title named a recipient: %q", s)
	}
}
