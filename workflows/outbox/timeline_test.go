package outbox_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestTimelineWhenTheContactGoesMeanwhile: a batch's activities are validated before the
// transaction that records the batch; a contact deleted between the two gets no activity
// (none pointing at a record that is gone), its email is still recorded as sent, and the
// batch's other emails keep theirs.
func TestTimelineWhenTheContactGoesMeanwhile(t *testing.T) {
	t.Parallel()
	e := newServed(t, outboxtest.Options{}, outbox.Config{})
	owner, _ := schemastest.NewUser(t, e.app, "olga@example.com", "sales", "north")
	var contacts, emails []*core.Record
	for _, name := range []string{"Ada", "Bea", "Cy"} {
		c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": name, "email": name + "@example.com", "owner": owner.Id})
		contacts = append(contacts, c)
		emails = append(emails, e.enqueue(t, outbox.Message{To: []string{c.GetString("email")}, Subject: "Welcome", Text: "Hello " + name,
			Object: "contacts", RecordID: c.Id}))
	}
	bea := contacts[1]
	var once sync.Once
	e.app.OnRecordValidate("activities").BindFunc(func(ev *core.RecordEvent) error {
		err := ev.Next()
		if err == nil && ev.Record.GetString("contact") == bea.Id && !ev.App.IsTransactional() {
			once.Do(func() { // validated, outside the transaction: now the contact goes
				if err := e.app.Delete(bea); err != nil {
					t.Error(err)
				}
			})
		}
		return err
	})
	e.drain(t)
	for _, m := range emails {
		if got := e.email(t, m.Id); got.GetString("status") != outbox.StatusSent {
			t.Errorf("email to %s = %s %q; want sent", got.GetString("to"), got.GetString("status"), got.GetString("last_error"))
		}
	}
	acts, err := e.app.FindAllRecords("activities")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range acts {
		got[a.GetString("contact")]++
	}
	if len(acts) != 2 || got[contacts[0].Id] != 1 || got[contacts[2].Id] != 1 {
		t.Errorf("activities by contact = %v; want one each for %s and %s, none for the deleted %s", got, contacts[0].Id, contacts[2].Id, bea.Id)
	}
}

// TestNoticesLeaveNoActivity: an email to a CRM user about a record (a notification: Notice)
// is sent like any other but logs no activity on the record's timeline, where the record's
// rep and her team would read what was written to the manager; an email to the record's
// person about it does.
func TestNoticesLeaveNoActivity(t *testing.T) {
	t.Parallel()
	e := newServed(t, outboxtest.Options{}, outbox.Config{})
	owner, _ := schemastest.NewUser(t, e.app, "olga@example.com", "sales", "north")
	ada := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada", "email": "ada@example.com", "owner": owner.Id})
	notice := e.enqueue(t, outbox.Message{To: []string{"boss@example.com"}, Subject: "For the boss only", Text: "Olga is on the list",
		Object: "contacts", RecordID: ada.Id, Notice: true})
	mail := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Welcome", Text: "Hello Ada",
		Object: "contacts", RecordID: ada.Id})
	e.drain(t)
	for _, m := range []*core.Record{notice, mail} {
		if got := e.email(t, m.Id); got.GetString("status") != outbox.StatusSent {
			t.Errorf("email %q = %s; want sent", got.GetString("subject"), got.GetString("status"))
		}
	}
	acts, err := e.app.FindAllRecords("activities")
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, a := range acts {
		titles = append(titles, a.GetString("subject"))
	}
	if len(acts) != 1 || acts[0].GetString("contact") != ada.Id || strings.Contains(strings.Join(titles, "|"), "boss") {
		t.Errorf("activities %q; want one, for the welcome email only", titles)
	}
	if !e.email(t, notice.Id).GetBool("notice") {
		t.Error("the notice is not stored as one")
	}
}
