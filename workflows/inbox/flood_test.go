package inbox_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// replyTo is a reply to the sent email with a Message-ID of its own, as anyone who received
// the email can write any number of.
func replyTo(email *core.Record, from string, n int) string {
	return fmt.Sprintf("From: %s\r\nTo: crm@relata.test\r\nSubject: Re: URGENT wire the money today\r\n"+
		"Message-ID: <flood-%d-%d@evil.test>\r\nIn-Reply-To: %s\r\n\r\nReply number %d.\r\n",
		from, n, time.Now().UnixNano(), email.GetString("message_id"), n)
}

// TestRepliesShareOneOpenTask replies to one sent email again and again, from its recipient
// and from a stranger posing as the CEO: every reply is on the timeline, but they share one
// open task, whose title names addresses, never display names or a reply's subject.
func TestRepliesShareOneOpenTask(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	c := seed(t, e)
	sink := outboxtest.NewServer(t, outboxtest.Options{})
	email := e.sent(t, sink, "ada@client.test", "contacts", c.ada.Id)
	const ada, ceo = `"Ada Lovelace" <ada@client.test>`, `"Your CEO (urgent)" <ceo@example.com>`
	openTasks := func() []*core.Record {
		return e.activities(t, dbx.HashExp{"contact": c.ada.Id, "type": "task", "done": false})
	}
	scenarios := []struct {
		name        string
		from        string
		closeFirst  bool // the owner marks the open task done before the reply
		wantTitle   string
		wantTasks   int // all answer-the-reply tasks, open or done
		wantReplies int // "Reply: …" activities on the timeline
	}{
		{name: "first reply", from: ada, wantTitle: `Answer the reply from ada@client.test to "Your quote"`, wantTasks: 1, wantReplies: 1},
		{name: "a stranger's reply", from: ceo, wantTitle: `Answer 2 replies to "Your quote" (the first from ada@client.test)`, wantTasks: 1, wantReplies: 2},
		{name: "and another", from: ceo, wantTitle: `Answer 3 replies to "Your quote" (the first from ada@client.test)`, wantTasks: 1, wantReplies: 3},
		{name: "after the task is done", from: ceo, closeFirst: true, wantTitle: `Answer the reply from ceo@example.com to "Your quote"`, wantTasks: 2, wantReplies: 4},
		{name: "while the new one is open", from: ada, wantTitle: `Answer 2 replies to "Your quote" (the first from ceo@example.com)`, wantTasks: 2, wantReplies: 5},
	}
	for i, sc := range scenarios {
		if sc.closeFirst {
			for _, task := range openTasks() {
				task.Set("done", true)
				if err := e.app.Save(task); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := e.send(t, "bounce@evil.test", []string{"reply@" + domain}, replyTo(email, sc.from, i)); err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		in := e.lastInbound(t)
		open := openTasks()
		if len(open) != 1 || open[0].GetString("subject") != sc.wantTitle || open[0].GetString("owner") != c.rita.Id {
			var titles []string
			for _, task := range open {
				titles = append(titles, task.GetString("subject"))
			}
			t.Fatalf("%s: open tasks %q; want one for Rita, %q (%s)", sc.name, titles, sc.wantTitle, in.GetString("result"))
		}
		if in.GetString("task") != open[0].Id {
			t.Errorf("%s: the reply names task %q; want %s", sc.name, in.GetString("task"), open[0].Id)
		}
		if n := len(e.activities(t, dbx.HashExp{"contact": c.ada.Id, "type": "task"})); n != sc.wantTasks {
			t.Errorf("%s: %d tasks; want %d", sc.name, n, sc.wantTasks)
		}
		replies := e.activities(t, dbx.And(dbx.HashExp{"contact": c.ada.Id, "type": "email"}, dbx.Like("subject", "Reply:").Match(false, true)))
		if len(replies) != sc.wantReplies {
			t.Errorf("%s: %d replies on the timeline; want %d", sc.name, len(replies), sc.wantReplies)
		}
	}
	// On the timeline the address comes first and the display name is the sender's claim.
	if n := e.count(t, "activities", dbx.NewExp(`body LIKE 'From ceo@example.com ("Your CEO (urgent)")%'`)); n != 3 {
		t.Errorf("%d timeline entries start with the address and the quoted name; want 3", n)
	}
}

// TestRepliesCappedPerDay floods one sent email with replies: 20 a day reach the timeline,
// the rest are accepted and dropped; another email's replies still arrive, and the next day
// the email's do again.
func TestRepliesCappedPerDay(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	c := seed(t, e)
	sink := outboxtest.NewServer(t, outboxtest.Options{})
	flooded := e.sent(t, sink, "ada@client.test", "contacts", c.ada.Id)
	other := e.sent(t, sink, "bob@client.test", "contacts", c.bob.Id)
	const stranger = `"Your CEO (urgent)" <ceo@example.com>`
	storedReplies := func(email *core.Record) int {
		return e.count(t, inbox.Collection, dbx.HashExp{"email": email.Id, "kind": inbox.KindReply})
	}
	n := 0
	scenarios := []struct {
		name                string
		email               *core.Record
		replies             int
		before              func()
		wantFlooded, wantOf int // stored replies to flooded and to other after the step
	}{
		{name: "a flood of 25", email: flooded, replies: 25, wantFlooded: 20},
		{name: "another email's reply", email: other, replies: 1, wantFlooded: 20, wantOf: 1},
		{name: "the next day", email: flooded, replies: 1, wantFlooded: 21, wantOf: 1, before: func() {
			yesterday := time.Now().Add(-25 * time.Hour).UTC().Format(types.DefaultDateLayout)
			if _, err := e.app.DB().Update(inbox.Collection, dbx.Params{"created": yesterday}, dbx.HashExp{"email": flooded.Id}).Execute(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, sc := range scenarios {
		if sc.before != nil {
			sc.before()
		}
		for i := 0; i < sc.replies; i++ {
			n++
			// Accepted: a refusal would make the sender's server retry, or bounce to whoever
			// the attacker named.
			if err := e.send(t, "bounce@evil.test", []string{"reply@" + domain}, replyTo(sc.email, stranger, n)); err != nil {
				t.Fatalf("%s: reply %d refused: %v", sc.name, i, err)
			}
		}
		if got := storedReplies(flooded); got != sc.wantFlooded {
			t.Errorf("%s: %d replies to the flooded email stored; want %d", sc.name, got, sc.wantFlooded)
		}
		if got := storedReplies(other); got != sc.wantOf {
			t.Errorf("%s: %d replies to the other email stored; want %d", sc.name, got, sc.wantOf)
		}
	}
	onTimeline := e.count(t, "activities", dbx.And(dbx.HashExp{"contact": c.ada.Id, "type": "email"}, dbx.Like("subject", "Reply:").Match(false, true)))
	if onTimeline != 21 {
		t.Errorf("%d replies on Ada's timeline; want 21", onTimeline)
	}
	if sent, _ := e.app.FindRecordById(outbox.Collection, flooded.Id); sent.GetString("replied_at") == "" {
		t.Error("the flooded email is not marked replied")
	}
	if tasks := e.activities(t, dbx.HashExp{"contact": c.ada.Id, "type": "task"}); len(tasks) != 1 || strings.Contains(tasks[0].GetString("subject"), "CEO") {
		t.Errorf("tasks %v; want one, naming no display name", tasks)
	}
}
