package outbox_test

import (
	"errors"
	"net/mail"
	"reflect"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// RenderMany must give, for every record, exactly what Render gives for it alone — the same
// text with the same related records hidden, and ErrNoAccess for a record the actor may not
// view — for the system, a sales user and a manager.
func TestRenderManyMatchesRender(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rec := w.template(t, map[string]any{"name": "deal", "object": "deals", "subject": "{{.record.name}} for {{.recipient.name}}",
		"html": "<p>{{.record.company.name}}</p><ul>{{range .record.contacts}}<li>{{.full_name}}</li>{{end}}</ul><p>{{.record.owner.name}} {{.user.name}}</p>"})
	tmpl, err := outbox.LoadTemplate(w.app, rec.GetString("name"))
	if err != nil {
		t.Fatal(err)
	}
	deals := []*core.Record{w.alicesDeal, w.bobsDeal, w.alicesDeal}
	for _, actor := range []*core.Record{nil, w.alice, w.bob, w.mgr} {
		ins := make([]outbox.RenderInput, len(deals))
		for i, d := range deals {
			ins[i] = outbox.RenderInput{Record: d, Actor: actor, Recipient: mail.Address{Name: "R" + d.Id, Address: "r@example.com"}}
		}
		out, errs, err := tmpl.RenderMany(w.app, actor, ins)
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range ins {
			want, wantErr := tmpl.Render(w.app, in)
			if (wantErr == nil) != (errs[i] == nil) || (wantErr != nil && errors.Is(wantErr, outbox.ErrNoAccess) != errors.Is(errs[i], outbox.ErrNoAccess)) {
				t.Fatalf("actor %v, deal %d: RenderMany error %v, Render error %v", actor, i, errs[i], wantErr)
			}
			if wantErr == nil && !reflect.DeepEqual(out[i], want) {
				t.Errorf("actor %v, deal %d:\nRenderMany %+v\nRender     %+v", actor, i, out[i], want)
			}
		}
	}
	// alice may not view bob's deal: the batch says so for that record only.
	_, errs, _ := tmpl.RenderMany(w.app, w.alice, []outbox.RenderInput{{Record: w.alicesDeal}, {Record: w.bobsDeal}})
	if errs[0] != nil || !errors.Is(errs[1], outbox.ErrNoAccess) {
		t.Errorf("alice's batch errors = %v", errs)
	}
}

// EnqueueMany writes emails the sender reads like Enqueue's, keeps idempotency keys (used
// before, or twice in the batch), and refuses an invalid message naming it.
func TestEnqueueManyIsIdempotentAndReadable(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{}, outbox.Config{})
	first := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "One", Text: "1", IdempotencyKey: "k1"})
	ids, err := outbox.EnqueueMany(e.app, []outbox.Message{
		{To: []string{"ada@example.com"}, Subject: "One again", Text: "1", IdempotencyKey: "k1"},
		{To: []string{"Bob <bob@example.com>"}, Subject: "Two", HTML: "<p>Hello <b>Bob</b></p>", IdempotencyKey: "k2", Category: outbox.Transactional},
		{To: []string{"bob@example.com"}, Subject: "Two again", Text: "2", IdempotencyKey: "k2"},
		{To: []string{"cy@example.com"}, Subject: "Three", Text: "3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != first.Id || ids[1] != ids[2] || ids[1] == "" || ids[3] == "" || ids[3] == ids[1] {
		t.Fatalf("ids = %v (first %s)", ids, first.Id)
	}
	two := e.email(t, ids[1])
	if got := two.GetStringSlice("to"); len(got) != 1 || got[0] != "Bob <bob@example.com>" {
		t.Errorf("to = %v", got)
	}
	if two.GetString("text") != "Hello Bob\n" || two.GetString("status") != outbox.StatusQueued || two.GetDateTime("next_at").IsZero() {
		t.Errorf("email = %v", two.FieldsData())
	}
	if n := e.drain(t); n != 3 {
		t.Errorf("drained %d; want 3", n)
	}
	if got := len(e.smtp.Messages()); got != 3 {
		t.Errorf("the server received %d messages; want 3", got)
	}
	if _, err := outbox.EnqueueMany(e.app, []outbox.Message{{To: []string{"ok@example.com"}}, {To: []string{"not an address"}}}); err == nil ||
		!errors.Is(err, outbox.ErrInvalid) || err.Error()[:9] != "message 1" {
		t.Errorf("invalid message: %v", err)
	}
}
