package workflows_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// contact creates a contact as alice through the REST API.
func (e *env) contact(t *testing.T, body map[string]any) *core.Record {
	t.Helper()
	code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok, body)
	if code != 200 {
		t.Fatalf("create contact: %d %v", code, out)
	}
	rec, err := e.app.FindRecordById("contacts", out["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (e *env) setField(t *testing.T, rec *core.Record, field string, v any) {
	t.Helper()
	if code, out := e.api(t, http.MethodPatch, "/api/collections/contacts/records/"+rec.Id, e.aliceTok, map[string]any{field: v}); code != 200 {
		t.Fatalf("update contact: %d %v", code, out)
	}
}

func TestInSegmentUnknownSegmentIsALocatedError(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{
		"name": "Event leads", "kind": segments.Dynamic, "filter": `source = "event"`, "owner": e.mgr.Id})
	d, err := workflows.Parse("test", []byte(`{"name": "x", "enabled": true, "object": "contacts", "trigger": {"type": "record_updated"},
	  "condition": "record.email != \"\" && inSegment(\"Evnt leads\")", "actions": [{"type": "create_task", "subject": "x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.eng.Save(e.app, d)
	if err == nil || !strings.Contains(err.Error(), "/condition") || !strings.Contains(err.Error(), `no segment "Evnt leads"`) ||
		!strings.Contains(err.Error(), "column 33") {
		t.Fatalf("save: %v; want a located unknown-segment error at /condition column 33", err)
	}
	for _, bad := range []string{
		`{"name": "y", "enabled": true, "object": "contacts", "trigger": {"type": "segment_entered", "segment": "Nope"}, "actions": [{"type": "create_task", "subject": "x"}]}`,
		`{"name": "y", "enabled": true, "object": "deals", "trigger": {"type": "segment_left", "segment": "Event leads"}, "actions": [{"type": "create_task", "subject": "x"}]}`,
		`{"name": "y", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"}, "stopIf": "inSegment(record.email)", "actions": [{"type": "create_task", "subject": "x"}]}`,
	} {
		d, err := workflows.Parse("test", []byte(bad))
		if err == nil {
			_, err = e.eng.Save(e.app, d)
		}
		if err == nil {
			t.Errorf("saved %s", bad)
		}
	}
}

func TestSegmentTriggersFireOncePerEntryAndConditionsSeeMembership(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{
		"name": "Event leads", "kind": segments.Dynamic, "filter": `source = "event"`, "owner": e.mgr.Id})
	svc := segments.New(e.app, segments.Config{Interval: -1, Now: e.clock.Now, OnChange: e.eng.SegmentChanged})
	e.save(t, `{"name": "entered", "enabled": true, "object": "contacts", "trigger": {"type": "segment_entered", "segment": "Event leads"},
	  "actions": [{"type": "create_task", "subject": "=\"Welcome \" + record.full_name"},
	    {"type": "branch", "if": "inSegment(\"Event leads\") && !replied()", "then": [{"type": "create_task", "subject": "=\"Inside \" + record.full_name"}]}]}`)
	e.save(t, `{"name": "left", "enabled": true, "object": "contacts", "trigger": {"type": "segment_left", "segment": "`+seg.Id+`"},
	  "actions": [{"type": "create_task", "subject": "=\"Gone \" + record.full_name"}]}`)
	e.save(t, `{"name": "member-update", "enabled": true, "object": "contacts", "trigger": {"type": "field_changed", "field": "phone"},
	  "condition": "inSegment(\"Event leads\")", "actions": [{"type": "create_task", "subject": "=\"Member \" + record.full_name"}]}`)

	ada := e.contact(t, map[string]any{"full_name": "Ada", "source": "event"})
	bea := e.contact(t, map[string]any{"full_name": "Bea", "source": "website"})
	evaluate := func() {
		t.Helper()
		e.clock.Add(15 * time.Minute)
		if err := svc.Evaluate(); err != nil {
			t.Fatal(err)
		}
		e.drain(t)
	}
	tasks := func(subject string) int {
		return e.count(t, "activities", "type = 'task' && subject = {:s}", map[string]any{"s": subject})
	}
	check := func(when string, want map[string]int) {
		t.Helper()
		for s, n := range want {
			if got := tasks(s); got != n {
				t.Errorf("%s: %d tasks %q; want %d", when, got, s, n)
			}
		}
	}
	evaluate()
	evaluate() // nothing changed: nothing fires again
	check("first evaluations", map[string]int{"Welcome Ada": 1, "Inside Ada": 1, "Welcome Bea": 0, "Gone Ada": 0})

	e.setField(t, ada, "source", "website")
	e.setField(t, bea, "source", "event")
	evaluate()
	evaluate()
	check("after moving", map[string]int{"Welcome Ada": 1, "Welcome Bea": 1, "Gone Ada": 1, "Gone Bea": 0})

	// Ada comes back: a new entry fires again, once.
	e.setField(t, ada, "source", "event")
	evaluate()
	evaluate()
	check("after Ada's return", map[string]int{"Welcome Ada": 2, "Gone Ada": 1})

	// The condition reads the stored membership: Bea is in, a new contact not yet.
	cy := e.contact(t, map[string]any{"full_name": "Cy", "source": "event"})
	e.setField(t, bea, "phone", "+39 02 1234")
	e.setField(t, cy, "phone", "+39 02 5678")
	e.drain(t)
	check("membership condition", map[string]int{"Member Bea": 1, "Member Cy": 0})
	if n := len(e.runs(t, "event = 'segment_entered'")); n != 3 {
		t.Errorf("%d segment_entered runs; want 3 (Ada twice and Bea; Cy is not evaluated yet)", n)
	}
}

const nurture = `{"name": "nurture", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
  "stopIf": "replied() || unsubscribed() || record.lifecycle_stage == \"customer\"",
  "actions": [
    {"type": "send_email", "name": "First email", "to": "email", "subject": "=\"Hello \" + record.full_name", "text": "First"},
    {"type": "wait", "for": "3d"},
    {"type": "send_email", "name": "Second email", "to": "email", "subject": "=\"Again \" + record.full_name", "text": "Second"},
    {"type": "wait", "for": "2d"},
    {"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d", "assignee": "owner"}
  ]}`

func TestSequenceStopsOnReplyUnsubscribeAndStage(t *testing.T) {
	const domain = "in.relata.test"
	e := newEnv(t, workflows.Config{})
	srv := outboxtest.NewServer(t, outboxtest.Options{})
	cfg := mailConfig(e, srv)
	cfg.InboundDomain = domain
	sender := outbox.MustRegister(e.app, cfg)
	in, err := inbox.Register(e.app, inbox.Config{Registry: e.reg, Domain: domain, Addr: "127.0.0.1:0", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)
	e.save(t, nurture)

	people := map[string]*core.Record{}
	for _, n := range []string{"ada", "bea", "cy", "dan"} {
		people[n] = e.contact(t, map[string]any{"full_name": n, "email": n + "@client.test"})
	}
	e.drain(t)
	if n, err := sender.Drain(); n != 4 || err != nil {
		t.Fatalf("sent %d, %v; want 4 first emails", n, err)
	}
	first := func(who string) *core.Record {
		rec, err := e.app.FindFirstRecordByFilter(outbox.Collection, "record_id = {:id}", map[string]any{"id": people[who].Id})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	// Ada replies (to the Message-ID of the first email, over SMTP to the inbound listener),
	// Bea unsubscribes, Cy becomes a customer; Dan does nothing.
	reply := "From: ada@client.test\r\nTo: crm@relata.test\r\nSubject: Re: Hello\r\nMessage-ID: <r1@client.test>\r\n" +
		"In-Reply-To: " + first("ada").GetString("message_id") + "\r\n\r\nTell me more.\r\n"
	if err := sendPlain(in.Addr(), "ada@client.test", "reply@"+domain, reply); err != nil {
		t.Fatal(err)
	}
	if got := first("ada").GetString("replied_at"); got == "" {
		t.Fatal("the inbox did not record Ada's reply")
	}
	if err := outbox.Suppress(e.app, "bea@client.test", outbox.ReasonUnsubscribe, "test"); err != nil {
		t.Fatal(err)
	}
	e.setField(t, people["cy"], "lifecycle_stage", "customer")

	for range 3 {
		e.clock.Add(3 * 24 * time.Hour)
		e.drain(t)
		if _, err := sender.Drain(); err != nil {
			t.Fatal(err)
		}
	}
	for who, want := range map[string]string{"ada": workflows.StatusStopped, "bea": workflows.StatusStopped, "cy": workflows.StatusStopped, "dan": workflows.StatusSucceeded} {
		runs := e.runs(t, "workflow_name = 'nurture' && record_id = '"+people[who].Id+"'")
		if len(runs) != 1 || runs[0].GetString("status") != want {
			t.Errorf("%s: runs %v; want one %s", who, runs, want)
			continue
		}
		if want == workflows.StatusStopped && !strings.Contains(runs[0].GetString("error"), "stopped before step 1:") {
			t.Errorf("%s: %q; want stopped before step 1 (the end of the first wait)", who, runs[0].GetString("error"))
		}
		emails := e.count(t, outbox.Collection, "record_id = {:id}", map[string]any{"id": people[who].Id})
		tasks := e.count(t, "activities", "type = 'task' && contact = {:id} && subject ~ 'Call'", map[string]any{"id": people[who].Id})
		wantEmails, wantTasks := 1, 0
		if who == "dan" {
			wantEmails, wantTasks = 2, 1
		}
		if emails != wantEmails || tasks != wantTasks {
			t.Errorf("%s: %d emails, %d call tasks; want %d and %d", who, emails, tasks, wantEmails, wantTasks)
		}
	}
}

// sendPlain speaks SMTP (no TLS) to addr with go-smtp's client: one message, one recipient.
func sendPlain(addr, from, to, raw string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("mx.client.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
