package outbox_test

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestVERPReturnPath: with an inbound domain the envelope sender names the email with a tag
// (bounce+<id>-<tag>@domain, read by workflows/inbox); without one it is the From address.
// The Message-ID, by which bounces and replies are matched too, is keyed the same way: not
// the plain hash of the email's key that anyone knowing its ids could compute.
func TestVERPReturnPath(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name, domain string
		want         func(local string) string
	}{
		{"inbound domain", "CRM.example.com", func(local string) string { return local + "@crm.example.com" }},
		{"none", "", func(string) string { return "crm@relata.test" }},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newSender(t, outboxtest.Options{}, outbox.Config{InboundDomain: sc.domain})
			rec := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
			e.drain(t)
			key, _, err := outbox.VERPKey(e.app)
			if err != nil {
				t.Fatal(err)
			}
			local := outbox.VERPLocal(key, rec.Id)
			if id, tagged, ok := outbox.ParseVERP(key, local); id != rec.Id || !tagged || !ok {
				t.Errorf("ParseVERP(%q) = %q, %v, %v; want the email's id, tagged", local, id, tagged, ok)
			}
			msgs := e.smtp.Messages()
			if len(msgs) != 1 || msgs[0].From != sc.want(local) {
				t.Fatalf("envelope sender %v; want %s", msgs, sc.want(local))
			}
			if got := msgs[0].Header.Get("From"); got != `"Relata CRM" <crm@relata.test>` {
				t.Errorf("From header %q changed", got)
			}
			plain := fmt.Sprintf("relata.%x@", sha256.Sum256([]byte("relata-message-id\nemail:"+rec.Id)))
			if id := msgs[0].Header.Get("Message-ID"); !strings.HasPrefix(id, "<relata.") || strings.Contains(id, plain[:len("relata.")+24]) {
				t.Errorf("Message-ID %q: want relata.<keyed digest>, not the plain hash of the email's id", id)
			}
		})
	}
}

// TestParseVERP: what a return address's local part says.
func TestParseVERP(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	good := outbox.VERPLocal(key, "abc123")
	tests := []struct {
		local          string
		id             string
		tagged, wantOK bool
	}{
		{good, "abc123", true, true},
		{"bounce+abc123", "abc123", false, true},
		{good[:len(good)-1], "", true, false},
		{strings.Replace(good, "abc123", "abc124", 1), "", true, false},
		{"bounce+abc123-", "", true, false},
		{"bounce+", "", false, false},
		{"reply+abc123", "", false, false},
	}
	for _, tt := range tests {
		id, tagged, ok := outbox.ParseVERP(key, tt.local)
		if id != tt.id || tagged != tt.tagged || ok != tt.wantOK {
			t.Errorf("ParseVERP(%q) = %q, %v, %v; want %q, %v, %v", tt.local, id, tagged, ok, tt.id, tt.tagged, tt.wantOK)
		}
	}
	if outbox.VERPLocal([]byte("another key"), "abc123") == good {
		t.Error("the tag does not depend on the key")
	}
}

// FuzzParseVERP: any local part is read without panicking, and one read as tagged is
// exactly the address the key makes for its id.
func FuzzParseVERP(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for _, s := range []string{outbox.VERPLocal(key, "abc123"), "bounce+abc123", "bounce+-", "bounce+a-b-c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, local string) {
		id, tagged, ok := outbox.ParseVERP(key, local)
		if ok && tagged && outbox.VERPLocal(key, id) != local {
			t.Errorf("ParseVERP(%q) accepted id %q, whose address is %q", local, id, outbox.VERPLocal(key, id))
		}
		if ok && !tagged && local != outbox.VERPPrefix+id {
			t.Errorf("ParseVERP(%q) = untagged %q", local, id)
		}
	})
}
