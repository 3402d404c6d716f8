package outbox_test

import (
	"testing"

	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestVERPReturnPath: with an inbound domain the envelope sender names the email
// (bounce+<id>@domain, read by workflows/inbox); without one it is the From address.
func TestVERPReturnPath(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name, domain string
		want         func(id string) string
	}{
		{"inbound domain", "CRM.example.com", func(id string) string { return "bounce+" + id + "@crm.example.com" }},
		{"none", "", func(string) string { return "crm@relata.test" }},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newSender(t, outboxtest.Options{}, outbox.Config{InboundDomain: sc.domain})
			rec := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
			e.drain(t)
			msgs := e.smtp.Messages()
			if len(msgs) != 1 || msgs[0].From != sc.want(rec.Id) {
				t.Fatalf("envelope sender %v; want %s", msgs, sc.want(rec.Id))
			}
			if got := msgs[0].Header.Get("From"); got != `"Relata CRM" <crm@relata.test>` {
				t.Errorf("From header %q changed", got)
			}
		})
	}
}
