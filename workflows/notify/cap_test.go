package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/notify"
	"github.com/relata/relata/workflows/outbox"
)

// TestEmailCapPerUser: a user mentioned 1,001 times (by a rep in many notes, or a workflow
// in a loop) gets every notification in the app but at most Config.MaxEmailsPerHour of them
// by email in a rolling hour — counted in the outbox, so within one transaction and across a
// restart too; a notification that asks for its email (the notify action's "email": true)
// counts and is capped the same. Another user is not affected; an hour later emails flow again.
func TestEmailCapPerUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := time.Now() // the outbox stamps emails with the wall clock
	e.clock.Set(start)
	byEmail := `{"kinds": {"mention": {"app": true, "email": true}}, "digest": false}`
	ada := e.user(t, "Ada@Example.com", "", byEmail)
	bob := e.user(t, "bob@example.com", "", byEmail)
	send := func(tx core.App, user *core.Record, key string, email bool) {
		t.Helper()
		kind := notify.KindMention
		if email {
			kind = notify.KindWorkflow
		}
		_, err := notify.Send(tx, notify.Notification{User: user.Id, Kind: kind, Title: "Rep mentioned you in a note",
			Object: "activities", RecordID: "a1", Key: key, Email: email})
		if err != nil {
			t.Fatal(err)
		}
	}
	emailsTo := func() map[string]int {
		t.Helper()
		e.drain(t)
		got := map[string]int{}
		for _, m := range e.smtp.Messages() {
			got[strings.ToLower(m.To[0])]++
		}
		return got
	}

	// 1,001 mentions of ada in 11 transactions: the cap counts what each queued before.
	for b := 0; b < 1001; b += 91 {
		err := e.app.RunInTransaction(func(tx core.App) error {
			for i := b; i < b+91; i++ {
				send(tx, ada, fmt.Sprint("mention:", i), false)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A restart (a new notifier) changes nothing; a required email is capped too.
	notify.MustRegister(e.app, notify.Config{Registry: e.reg, Now: e.clock.Now, NoCron: true})
	send(e.app, ada, "workflow:1", true)
	for i := range 3 {
		send(e.app, bob, fmt.Sprint("bob:", i), false)
	}
	if got := emailsTo(); got["ada@example.com"] != notify.DefaultMaxEmailsPerHour || got["bob@example.com"] != 3 || len(got) != 2 {
		t.Errorf("emails sent: %v, want ada's %d and bob's 3", got, notify.DefaultMaxEmailsPerHour)
	}
	if n := len(e.notifications(t, ada)); n != 1002 {
		t.Errorf("ada has %d notifications in the app, want 1,002", n)
	}

	// An hour after the first ones, ada's emails flow again.
	e.clock.Set(start.Add(time.Hour + time.Minute))
	send(e.app, ada, "mention:later", false)
	send(e.app, ada, "workflow:later", true)
	if got := emailsTo(); got["ada@example.com"] != notify.DefaultMaxEmailsPerHour+2 {
		t.Errorf("an hour later: emails sent %v, want ada's %d", got, notify.DefaultMaxEmailsPerHour+2)
	}
}

// TestEmailCapConfig: Config.MaxEmailsPerHour sets the cap; 0 is the default; a negative
// one is refused with the reason (and leaves the cap as it was).
func TestEmailCapConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Set(time.Now())
	for i, tc := range []struct {
		max, want int
		err       string
	}{
		{max: 2, want: 2},
		{max: -1, want: 2, err: "Config.MaxEmailsPerHour is -1"},
		{max: 0, want: notify.DefaultMaxEmailsPerHour},
	} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			_, err := notify.Register(e.app, notify.Config{Registry: e.reg, Now: e.clock.Now, NoCron: true, MaxEmailsPerHour: tc.max})
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Register: %v, want %q", err, tc.err)
			}
			user := e.user(t, fmt.Sprintf("user%d@example.com", i), "", `{"digest": false}`)
			for j := range tc.want + 3 {
				if _, err := notify.Send(e.app, notify.Notification{User: user.Id, Kind: notify.KindWorkflow,
					Title: "Big deal", Key: fmt.Sprint("w:", i, ":", j), Email: true}); err != nil {
					t.Fatal(err)
				}
			}
			if n := e.drain(t); n != tc.want {
				t.Errorf("%d emails sent, want %d", n, tc.want)
			}
		})
	}
}

// TestEmailCapCountsByUser: the cap counts a user's notification emails by her id, not by
// her address: a user who changes her address within the hour stays capped, and a user who
// takes the address another one gave up is not capped by the other's emails.
func TestEmailCapCountsByUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.Set(time.Now()) // the outbox stamps emails with the wall clock
	byEmail := `{"kinds": {"mention": {"app": true, "email": true}}, "digest": false}`
	ada := e.user(t, "ada@example.com", "", byEmail)
	bob := e.user(t, "bob@example.com", "", byEmail)
	send := func(user *core.Record, key string) {
		t.Helper()
		if _, err := notify.Send(e.app, notify.Notification{User: user.Id, Kind: notify.KindMention, Title: "Mentioned", Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range notify.DefaultMaxEmailsPerHour {
		send(ada, fmt.Sprint("ada:", i))
	}
	// ada moves to a new address, and bob takes her old one
	for _, u := range []struct {
		rec  *core.Record
		addr string
	}{{ada, "ada.new@example.com"}, {bob, "ada@example.com"}} {
		u.rec.SetEmail(u.addr)
		if err := e.app.Save(u.rec); err != nil {
			t.Fatal(err)
		}
	}
	send(ada, "ada:after-move")
	send(bob, "bob:1")
	e.drain(t)
	got := map[string]int{}
	for _, m := range e.smtp.Messages() {
		got[strings.ToLower(m.To[0])]++
	}
	if want := (map[string]int{"ada@example.com": notify.DefaultMaxEmailsPerHour + 1}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("emails sent %v, want %v: ada's %d at her old address and bob's one, none at ada's new one",
			got, want, notify.DefaultMaxEmailsPerHour)
	}
}

// TestNoticesNameTheirUser: every notification email — a notification's, a digest — records
// its recipient's user id (to_users), which the emails API hides her address by and the cap
// counts by.
func TestNoticesNameTheirUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.user(t, "ada@example.com", "UTC", `{"kinds": {"mention": {"app": true, "email": true}}}`)
	e.task(t, ada, "Call the bank", time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), false)
	e.tick(t, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)) // her digest
	if _, err := notify.Send(e.app, notify.Notification{User: ada.Id, Kind: notify.KindMention, Title: "Mentioned", Key: "m1"}); err != nil {
		t.Fatal(err)
	}
	emails, err := e.app.FindAllRecords(outbox.Collection)
	if err != nil {
		t.Fatal(err)
	}
	subjects := map[string]bool{}
	for _, m := range emails {
		subjects[m.GetString("subject")] = true
		var users []string
		if err := m.UnmarshalJSONField(outbox.UsersField, &users); err != nil || len(users) != 1 || users[0] != ada.Id {
			t.Errorf("email %q: to_users = %v, want [%s]", m.GetString("subject"), users, ada.Id)
		}
	}
	if len(emails) != 2 || !subjects["Mentioned"] {
		t.Errorf("emails %v, want her digest and the mention", subjects)
	}
}
