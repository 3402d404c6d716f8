package outbox_test

import (
	"testing"

	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

func TestEnqueueIsIdempotentAndDerivesText(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{}, outbox.Config{})
	m := outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", HTML: "<p>Hello <a href=\"https://x.test\">there</a></p>",
		IdempotencyKey: "run1:0"}
	a := e.enqueue(t, m)
	b := e.enqueue(t, m)
	if a.Id != b.Id {
		t.Fatalf("the same idempotency key queued two emails: %s, %s", a.Id, b.Id)
	}
	if got := a.GetString("text"); got != "Hello there (https://x.test)\n" {
		t.Errorf("derived text = %q", got)
	}
	if a.GetString("category") != outbox.Transactional || a.GetString("status") != outbox.StatusQueued {
		t.Errorf("email = %v", a.FieldsData())
	}
}
