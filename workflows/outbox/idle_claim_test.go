package outbox_test

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// A sender with no due email looks with a read: it does not wait for the write connection
// held by a transaction (a workflow group, a REST create). A queued email is still claimed,
// sent once, and loaded whole from the claim (its fields as stored).
func TestIdleSenderDoesNotWaitForTheWriter(t *testing.T) {
	e := newSender(t, outboxtest.Options{}, outbox.Config{})
	held, done, ended := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		ended <- e.app.RunInTransaction(func(tx core.App) error {
			if _, err := tx.DB().NewQuery("UPDATE emails SET updated = updated WHERE 0").Execute(); err != nil {
				return err
			}
			close(held)
			<-done
			return nil
		})
	}()
	<-held
	idle := make(chan int, 1)
	go func() {
		n, err := e.sender.SendDue()
		if err != nil {
			n = -1
		}
		idle <- n
	}()
	select {
	case n := <-idle:
		if n != 0 {
			t.Fatalf("SendDue with nothing due = %d", n)
		}
	case <-time.After(20 * time.Second):
		close(done)
		t.Fatal("an idle sender waited for the transaction holding the write connection")
	}
	close(done)
	if err := <-ended; err != nil {
		t.Fatal(err)
	}

	rec := e.enqueue(t, outbox.Message{To: []string{"Ann <ann@example.com>"}, Subject: "Hi", Text: "Hello"})
	if n := e.drain(t); n != 1 {
		t.Fatalf("drain = %d; want 1", n)
	}
	got := e.email(t, rec.Id)
	if got.GetString("status") != outbox.StatusSent || got.GetInt("attempts") != 1 {
		t.Fatalf("status %q after %d attempts; want sent after 1", got.GetString("status"), got.GetInt("attempts"))
	}
	msgs := e.smtp.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "ann@example.com" {
		t.Fatalf("delivered %+v; want one message to ann@example.com", msgs)
	}
}
