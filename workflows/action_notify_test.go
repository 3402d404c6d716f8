package workflows_test

import (
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/notify"
)

// The notify action notifies the record's owner (and a fixed user by email address) once
// per run, with expressions in the title, linked to the record; asking for email queues one.
func TestNotifyAction(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "big-deals", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [
	    {"type": "notify", "to": "owner", "title": "=\"Big deal: \" + record.name", "body": "Call them today.", "email": true},
	    {"type": "notify", "to": "mgr@example.com", "title": "A deal was created"}
	  ]}`)
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Acme", "owner": e.alice.Id, "stage": "lead"})
	if n := e.drain(t); n != 1 {
		t.Fatalf("ran %d runs", n)
	}
	got, err := e.app.FindRecordsByFilter(notify.Collection, "user = {:u}", "", 0, 0, map[string]any{"u": e.alice.Id})
	if err != nil || len(got) != 1 {
		t.Fatalf("alice's notifications = %v, %v", got, err)
	}
	if n := got[0]; n.GetString("title") != "Big deal: Acme" || n.GetString("body") != "Call them today." ||
		n.GetString("kind") != notify.KindWorkflow || n.GetString("object") != "deals" || n.GetString("record_id") != deal.Id {
		t.Errorf("notification = %v", n.FieldsData())
	}
	if n := e.count(t, notify.Collection, "user = {:u}", map[string]any{"u": e.mgr.Id}); n != 1 {
		t.Errorf("the manager has %d notifications, want 1", n)
	}
	if n := e.count(t, "emails", "to ~ 'alice@example.com' && subject = 'Big deal: Acme'"); n != 1 {
		t.Errorf("%d emails to alice, want 1", n)
	}
	if n := e.count(t, "emails", "to ~ 'mgr@example.com'"); n != 0 {
		t.Errorf("%d emails to the manager, who asked for none", n)
	}
}

// Bad settings are refused at save with their location.
func TestNotifyActionChecks(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	for _, s := range []struct{ def, want string }{
		{`{"type": "notify", "to": "name", "title": "x"}`, `/actions/0/to: field "name" is a text field`},
		{`{"type": "notify", "to": "nobody", "title": "x"}`, `/actions/0/to: "nobody" is neither`},
		{`{"type": "notify", "to": "owner", "title": "=record.nope"}`, `/actions/0/title: expression`},
		{`{"type": "notify", "to": "owner"}`, `/actions/0`},
	} {
		d, err := workflows.Parse("test", []byte(`{"name": "n", "object": "deals", "trigger": {"type": "record_created"}, "actions": [`+s.def+`]}`))
		if err == nil {
			_, err = e.eng.Save(e.app, d)
		}
		if err == nil || !strings.Contains(err.Error(), s.want) {
			t.Errorf("%s: error %v, want %q", s.def, err, s.want)
		}
	}
}

// With a template, the notification's title and body are its subject and text, rendered for
// the record.
func TestNotifyActionTemplate(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	schemastest.MustCreate(t, e.app, "email_templates", map[string]any{"name": "deal-alert", "category": "transactional", "object": "deals",
		"subject": "Deal {{.record.name}} needs you", "text": "Amount: {{.record.amount}}"})
	e.save(t, `{"name": "tmpl", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [{"type": "notify", "to": "owner", "template": "deal-alert"}]}`)
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Acme", "amount": 1200, "owner": e.bob.Id, "stage": "lead"})
	e.drain(t)
	got, err := e.app.FindRecordsByFilter(notify.Collection, "user = {:u}", "", 0, 0, map[string]any{"u": e.bob.Id})
	if err != nil || len(got) != 1 {
		t.Fatalf("bob's notifications = %v, %v", got, err)
	}
	if got[0].GetString("title") != "Deal Acme needs you" || got[0].GetString("body") != "Amount: 1200" {
		t.Errorf("notification = %q / %q", got[0].GetString("title"), got[0].GetString("body"))
	}
}
