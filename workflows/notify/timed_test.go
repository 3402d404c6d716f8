package notify_test

import (
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/workflows/notify"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// subject is a message's decoded subject.
func subject(m *outboxtest.Message) string {
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return m.Header.Get("Subject")
	}
	return s
}

// A user in Europe/Rome gets the digest at her 08:00 (07:00 UTC in winter), not at 08:00
// UTC; a user in UTC gets his an hour later; each once per local day, across a restart.
func TestDigestAtLocalEight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.user(t, "ada@example.com", "Europe/Rome", "")
	bob := e.user(t, "bob@example.com", "", "")
	off := e.user(t, "off@example.com", "Europe/Rome", `{"digest": false}`)
	rome, _ := time.LoadLocation("Europe/Rome")
	day := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, rome) }

	e.task(t, ada, "Call the bank", day(15, 30), false)                                  // today, a moment
	e.task(t, ada, "Send the offer", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), false) // today, a day
	e.task(t, ada, "Chase the invoice", day(0, 0).AddDate(0, 0, -2), false)              // overdue
	e.task(t, ada, "Tomorrow's meeting", day(9, 0).AddDate(0, 0, 1), false)              // not yet
	e.task(t, ada, "Already done", day(11, 0), true)                                     // done
	e.task(t, ada, "Next day as a day", time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), false)
	e.task(t, bob, "Bob's call", day(17, 0), false)
	e.task(t, off, "Off's call", day(17, 0), false)

	e.tick(t, day(7, 59))
	if n := e.drain(t); n != 0 {
		t.Fatalf("at 07:59 in Rome %d emails were sent, want none", n)
	}
	e.tick(t, day(8, 0)) // 07:00 UTC
	e.tick(t, day(8, 1))
	if n := e.drain(t); n != 1 {
		t.Fatalf("at 08:00 in Rome %d emails were sent, want ada's digest only", n)
	}
	msgs := e.smtp.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "ada@example.com" {
		t.Fatalf("messages = %+v", msgs)
	}
	subject := subject(msgs[0])
	if subject != "Your tasks for 2026-03-02: 2 today, 1 overdue" {
		t.Errorf("subject = %q", subject)
	}
	body := msgs[0].Part("text/plain")
	for _, want := range []string{"Call the bank", "(15:30)", "Send the offer", "Chase the invoice (2026-02-28 00:00)\n  https://crm.example.com/#/record/activities/", "https://crm.example.com/#/record/activities/"} {
		if !strings.Contains(body, want) {
			t.Errorf("digest lacks %q:\n%s", want, body)
		}
	}
	for _, not := range []string{"Tomorrow's meeting", "Already done", "Next day as a day", "Bob's call"} {
		if strings.Contains(body, not) {
			t.Errorf("digest holds %q:\n%s", not, body)
		}
	}

	// A restart (a new notifier, nothing remembered) later that morning sends no second one.
	n2, err := notify.Register(e.app, notify.Config{Registry: e.reg, Now: e.clock.Now, NoCron: true})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(day(9, 30))
	if err := n2.Tick(); err != nil {
		t.Fatal(err)
	}
	e.tick(t, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)) // 08:00 UTC: bob's turn
	if n := e.drain(t); n != 1 {
		t.Fatalf("at 08:00 UTC %d emails were sent, want bob's digest only", n)
	}
	if msgs := e.smtp.Messages(); len(msgs) != 2 || msgs[1].To[0] != "bob@example.com" {
		t.Fatalf("second message went to %v", msgs[len(msgs)-1].To)
	}
	// The next day in Rome brings the next digest.
	e.tick(t, day(8, 0).AddDate(0, 0, 1))
	if n := e.drain(t); n != 1 {
		t.Fatalf("the next morning %d emails were sent, want ada's", n)
	}
}

// The digest speaks the user's language.
func TestDigestInItalian(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.user(t, "ada@example.com", "Europe/Rome", "")
	ada.Set("language", "it")
	if err := e.app.Save(ada); err != nil {
		t.Fatal(err)
	}
	e.task(t, ada, "Chiamare la banca", time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC), false)
	e.tick(t, time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC))
	e.drain(t)
	msgs := e.smtp.Messages()
	if len(msgs) != 1 || subject(msgs[0]) != "Le tue attività del 2026-03-02: 1 oggi, 0 scadute" {
		t.Fatalf("%d messages; want one in Italian", len(msgs))
	}
	if !strings.Contains(msgs[0].Part("text/plain"), "Chiamare la banca (15:00)") {
		t.Errorf("body = %s", msgs[0].Part("text/plain"))
	}
}

// A reminder comes the user's lead time before a task's due time, once, in her time zone.
func TestReminderBeforeDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.user(t, "ada@example.com", "Europe/Rome", `{"reminderMinutes": 30, "digest": false, "kinds": {"due": {"app": true, "email": true}}}`)
	bob := e.user(t, "bob@example.com", "", `{"digest": false}`) // default: 15 minutes
	due := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	task := e.task(t, ada, "Call the bank", due, false)
	e.task(t, bob, "Bob's call", due, false)
	e.task(t, ada, "A whole day", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), false)

	e.tick(t, due.Add(-31*time.Minute))
	if got := e.notifications(t, ada); len(got) != 0 {
		t.Fatalf("31 minutes before: %d notifications", len(got))
	}
	e.tick(t, due.Add(-30*time.Minute))
	e.tick(t, due.Add(-29*time.Minute))
	got := e.notifications(t, ada)
	if len(got) != 1 {
		t.Fatalf("30 minutes before: %d notifications, want 1", len(got))
	}
	if got[0].GetString("kind") != notify.KindDue || got[0].GetString("record_id") != task.Id ||
		got[0].GetString("title") != "Due at 11:00: Call the bank" {
		t.Errorf("notification = %v", got[0].FieldsData())
	}
	if n := len(e.notifications(t, bob)); n != 0 {
		t.Errorf("bob was reminded 29 minutes before (his lead is 15): %d", n)
	}
	e.tick(t, due.Add(-15*time.Minute))
	if n := len(e.notifications(t, bob)); n != 1 {
		t.Errorf("bob: %d reminders 15 minutes before, want 1", n)
	}
	// Ada asked for reminders by email too.
	if n := e.drain(t); n != 1 {
		t.Fatalf("%d emails, want ada's reminder", n)
	}
	// Moving the task gives a new reminder.
	task.Set("due", due.Add(time.Hour))
	if err := e.app.Save(task); err != nil {
		t.Fatal(err)
	}
	e.tick(t, due.Add(31*time.Minute))
	if n := len(e.notifications(t, ada)); n != 2 {
		t.Errorf("after moving the task: %d notifications, want 2", n)
	}
}

// Notifications older than Keep are deleted by the minute job; newer ones stay.
func TestOldNotificationsPurged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.user(t, "ada@example.com", "", `{"digest": false}`)
	if _, err := notify.Send(e.app, notify.Notification{User: ada.Id, Kind: notify.KindWorkflow, Title: "Old news", Key: "old"}); err != nil {
		t.Fatal(err)
	}
	e.tick(t, time.Now().Add(89*24*time.Hour))
	if n := len(e.notifications(t, ada)); n != 1 {
		t.Fatalf("after 89 days: %d notifications, want 1", n)
	}
	e.tick(t, time.Now().Add(91*24*time.Hour))
	if n := len(e.notifications(t, ada)); n != 0 {
		t.Fatalf("after 91 days: %d notifications, want 0", n)
	}
}

// TestRemindersEveryDueTask: with more tasks due within the window than one page holds, and
// a page ending among tasks due at the same second, every open task of the user due within
// her lead time is reminded once — and no task done, nobody's, outside the window or due on
// a day without a time.
func TestRemindersEveryDueTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.user(t, "ada@example.com", "", `{"reminderMinutes": 1440, "digest": false}`)
	now := e.clock.Now()
	var tasks []sqlTask
	for i := range 995 { // the first page's first 995
		tasks = append(tasks, sqlTask{Due: now.Add(time.Minute + time.Duration(i)*time.Second), Owner: ada.Id})
	}
	same := now.Add(2 * time.Hour)
	for range 8 { // 995–1002 due at the same second: the first page ends among them
		tasks = append(tasks, sqlTask{Due: same, Owner: ada.Id})
	}
	tasks = append(tasks, sqlTask{Due: now.Add(notify.MaxReminder), Owner: ada.Id}) // the window's last moment
	want := writeTasks(t, e.app, tasks)
	writeTasks(t, e.app, []sqlTask{
		{Due: same, Owner: ada.Id, Done: true}, // done
		{Due: same},                            // nobody's
		{Due: now, Owner: ada.Id},              // due now: past
		{Due: now.Add(notify.MaxReminder + time.Second), Owner: ada.Id},   // beyond the window
		{Due: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), Owner: ada.Id}, // a day: the digest's
		{Owner: ada.Id}, // no due time
	})

	for range 2 { // the second minute reminds nobody again
		e.tick(t, now)
		got := map[string]int{}
		for _, rec := range e.notifications(t, ada) {
			got[rec.GetString("record_id")]++
		}
		for _, id := range want {
			if got[id] != 1 {
				t.Errorf("task %s: %d reminders, want 1", id, got[id])
			}
			delete(got, id)
		}
		if len(got) > 0 {
			t.Errorf("reminders of tasks not due for one: %v", got)
		}
	}
}
