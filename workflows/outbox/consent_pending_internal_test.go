package outbox

import (
	"fmt"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestPendingConsentRefusesNothing: a marketing consent still waiting for its double opt-in
// confirmation is as if absent — anyone can post a public form with someone else's address,
// and that must not stop their mail — while a withdrawn consent still refuses. The sender's
// two paths (one email, a preloaded batch) give the same answer.
func TestPendingConsentRefusesNothing(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	schemas.MustRegister(app, nil, schemas.Config{})
	schemastest.Serve(t, app) // serving applies the object model (contacts)
	pending := map[string]any{"needs_confirmation": true}
	valid := map[string]any{}
	confirmed := map[string]any{"needs_confirmation": true, "confirmed_at": "2026-12-01 11:00:00.000Z"}
	withdrawn := map[string]any{"withdrawn_at": "2026-12-02 09:00:00.000Z"}
	pendingWithdrawn := map[string]any{"needs_confirmation": true, "withdrawn_at": "2026-12-02 09:00:00.000Z"}
	scenarios := []struct {
		name     string
		consents []map[string]any
		refused  bool
	}{
		{"no consent", nil, false},
		{"only a pending consent", []map[string]any{pending}, false},
		{"several pending consents", []map[string]any{pending, pending, pending}, false},
		{"pending and valid", []map[string]any{pending, valid}, false},
		{"confirmed", []map[string]any{confirmed}, false},
		{"withdrawn", []map[string]any{withdrawn}, true},
		{"withdrawn, then a pending one", []map[string]any{withdrawn, pending}, true},
		{"a pending one withdrawn (an unsubscribe withdraws it too)", []map[string]any{pendingWithdrawn}, true},
	}
	for i, sc := range scenarios {
		addr := fmt.Sprintf("p%d@example.com", i)
		c := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": sc.name, "email": addr})
		for _, v := range sc.consents {
			base := map[string]any{"form": "newsletter", "object": "contacts", "record_id": c.Id, "text": "yes", "version": "1",
				"given_at": "2026-12-01 10:00:00.000Z", "purpose": "marketing_email", "basis": "consent"}
			for k, x := range v {
				base[k] = x
			}
			schemastest.MustCreate(t, app, "consents", base)
		}
		m := Message{To: []string{addr}, Category: Marketing, Subject: "News", Text: "x", Object: "contacts", RecordID: c.Id}
		rec, err := Enqueue(app, m)
		if err != nil {
			t.Fatal(err)
		}
		one, err := consentReason(app, m)
		if err != nil {
			t.Fatal(err)
		}
		chk, err := (&Sender{}).preloadChecks(app, []*core.Record{rec})
		if err != nil {
			t.Fatal(err)
		}
		batch, ok := chk.reason(m)
		if !ok {
			t.Fatalf("%s: the batch checks did not preload the email", sc.name)
		}
		if (one != "") != sc.refused || one != batch {
			t.Errorf("%s: consentReason %q, batch %q; want refused=%v from both", sc.name, one, batch, sc.refused)
		}
	}
}
