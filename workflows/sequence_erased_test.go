package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestSequenceStopsForAnErasedAddress: a person erased under GDPR art. 17 stays on the
// suppression list only as a keyed hash of their address. When the address comes back (a
// re-import, a new form submission), the outbox refuses marketing mail to it, and a sequence's
// unsubscribed() must agree: it asked the list by address only, so the sequence ran on to its
// last step as if the person had never asked to be forgotten.
func TestSequenceStopsForAnErasedAddress(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	srv := outboxtest.NewServer(t, outboxtest.Options{})
	sender := outbox.MustRegister(e.app, mailConfig(e, srv))
	sender.Stop() // mail goes out through Drain below only
	t.Cleanup(sender.Stop)
	e.save(t, nurture)

	scenarios := []struct {
		name, email string
		before      func(t *testing.T, email string) // before the contact (re)appears
		wantStatus  string
	}{
		{"unsubscribed", "una@client.test", func(t *testing.T, email string) {
			if err := outbox.Suppress(e.app, email, outbox.ReasonUnsubscribe, "test"); err != nil {
				t.Fatal(err)
			}
		}, workflows.StatusStopped},
		{"erased", "Era@Client.test", func(t *testing.T, email string) {
			if _, err := privacy.Erase(e.app, e.reg, privacy.Subject{Email: email}, "test"); err != nil {
				t.Fatal(err)
			}
		}, workflows.StatusStopped},
		// The control: the stop condition does not hold for everyone.
		{"neither", "nell@client.test", func(*testing.T, string) {}, workflows.StatusSucceeded},
	}
	people := map[string]*core.Record{}
	for _, sc := range scenarios {
		sc.before(t, sc.email)
		people[sc.name] = e.contact(t, map[string]any{"full_name": sc.name, "email": sc.email})
	}
	for range 3 {
		e.drain(t)
		if _, err := sender.Drain(); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(3 * 24 * time.Hour)
	}
	for _, sc := range scenarios {
		runs := e.runs(t, "workflow_name = 'nurture' && record_id = '"+people[sc.name].Id+"'")
		if len(runs) != 1 || runs[0].GetString("status") != sc.wantStatus {
			t.Errorf("%s: runs %v; want one %s", sc.name, runs, sc.wantStatus)
			continue
		}
		if sc.wantStatus == workflows.StatusStopped && !strings.Contains(runs[0].GetString("error"), "unsubscribed()") {
			t.Errorf("%s: %q; want stopped by stopIf", sc.name, runs[0].GetString("error"))
		}
		tasks := e.count(t, "activities", "type = 'task' && contact = {:id} && subject ~ 'Call'", map[string]any{"id": people[sc.name].Id})
		if want := map[bool]int{true: 0, false: 1}[sc.wantStatus == workflows.StatusStopped]; tasks != want {
			t.Errorf("%s: %d call tasks; want %d", sc.name, tasks, want)
		}
		// Stopped before its first step: the sequence queued no mail at all (its emails are
		// transactional, which the outbox's suppression check would let through).
		if sc.wantStatus == workflows.StatusStopped {
			if n := e.count(t, outbox.Collection, "record_id = {:id}", map[string]any{"id": people[sc.name].Id}); n != 0 {
				t.Errorf("%s: %d emails queued; want none", sc.name, n)
			}
		}
	}
}
