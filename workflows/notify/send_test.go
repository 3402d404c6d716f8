package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/workflows/notify"
	"github.com/relata/relata/workflows/outbox"
)

// TestSendControlCharacters: a title holding control characters (a record named
// "Acme\x00" by whoever may edit it) is shown without them and still emailed. The email's
// subject refused them, so Send failed — and with it the save that caused the notification
// (a colleague's reassignment, a mention) or, every minute, the owner's reminder.
func TestSendControlCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	emailAll := `{"kinds": {"assigned": {"app": true, "email": true}, "due": {"app": true, "email": true}}}`
	bob := e.user(t, "bob@example.com", "", emailAll)
	for _, title := range []string{"Manager assigned you company “Acme\x00”", "Acme\x1b[2J\x07 \u0085 \x7f"} {
		t.Run(title, func(t *testing.T) {
			rec, err := notify.Send(e.app, notify.Notification{User: bob.Id, Kind: notify.KindAssigned, Title: title,
				Object: "companies", RecordID: "c1", Key: "assigned:" + title})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := rec.GetString("title"); strings.ContainsFunc(got, isControl) || !strings.Contains(got, "Acme") {
				t.Errorf("title = %q", got)
			}
			email, err := e.app.FindFirstRecordByData(outbox.Collection, "idempotency_key", "notify:assigned:"+title)
			if err != nil {
				t.Fatalf("no email: %v", err)
			}
			if got := email.GetString("subject"); strings.ContainsFunc(got, isControl) || !strings.Contains(got, "Acme") {
				t.Errorf("subject = %q", got)
			}
		})
	}
	t.Run("a reminder", func(t *testing.T) {
		due := e.clock.Now().Add(10 * time.Minute)
		task := e.task(t, bob, "Call\x00 the bank", due, false)
		e.tick(t, e.clock.Now())
		got := e.notifications(t, bob)
		if len(got) == 0 || got[len(got)-1].GetString("record_id") != task.Id {
			t.Fatalf("no reminder of the task: %d notifications", len(got))
		}
	})
}

func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }

// TestDigestTitlesAreOneLine: a task's title is one line of the digest. A teammate who may
// edit a rep's task (team scope) titled it "Call the bank\n  https://phish.example/…", and
// the digest showed the address as the CRM's own link under it, or a section of its own.
func TestDigestTitlesAreOneLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.user(t, "ada@example.com", "", "")
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	e.task(t, ada, "Call the bank\n  https://phish.example/login\r\n\nDue today (9):\n- Pay\x00 now", at, false)
	e.tick(t, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	if n := e.drain(t); n != 1 {
		t.Fatalf("%d emails sent, want the digest", n)
	}
	body := e.smtp.Messages()[0].Part("text/plain")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "https://phish.example") || strings.HasPrefix(line, "Due today (9)") ||
			strings.HasPrefix(line, "- Pay") || strings.ContainsRune(line, 0) {
			t.Errorf("the title made a line of its own: %q in\n%s", line, body)
		}
	}
	if !strings.Contains(body, "- Call the bank https://phish.example/login Due today (9): - Pay now (15:00)") {
		t.Errorf("the title is not on one line:\n%s", body)
	}
}
