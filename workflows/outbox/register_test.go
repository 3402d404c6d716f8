package outbox_test

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

func TestWorkersStartWithTheServerAndStopOnTerminate(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	srv := outboxtest.NewServer(t, outboxtest.Options{})
	// A long poll interval: only the "email queued" wake-up can make the worker send in time.
	s := outbox.MustRegister(app, testConfig(srv, &clock{}, outbox.Config{PollInterval: time.Hour}))
	t.Cleanup(s.Stop)
	if s.Running() {
		t.Fatal("the sender runs before the server starts")
	}
	schemastest.Serve(t, app)
	if !s.Running() {
		t.Fatal("the sender does not run after the server started")
	}
	first, err := outbox.Enqueue(app, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := srv.Wait(1, 5*time.Second); len(msgs) != 1 {
		t.Fatalf("the running sender delivered %d emails; want 1", len(msgs))
	}
	waitStatus(t, app, first.Id, outbox.StatusSent)

	if err := app.OnTerminate().Trigger(&core.TerminateEvent{App: app}); err != nil {
		t.Fatal(err)
	}
	if s.Running() {
		t.Fatal("the sender still runs after the app terminated")
	}
	second, err := outbox.Enqueue(app, outbox.Message{To: []string{"bob@example.com"}, Subject: "Hi", Text: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("a stopped sender delivered: server has %d messages", n)
	}
	waitStatus(t, app, second.Id, outbox.StatusQueued)
}

// waitStatus waits up to 5s for an email to reach status.
func waitStatus(t *testing.T, app core.App, id, status string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec, err := app.FindRecordById(outbox.Collection, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetString("status") == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("email %s is %s; want %s", id, rec.GetString("status"), status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
