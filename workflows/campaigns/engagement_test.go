package campaigns_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/campaigns"
	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/outbox"
)

// TestEngagementOnTimeline sends a campaign, then mails Relata's inbound SMTP listener a hard
// bounce (postfix DSN), a soft one (a "delayed" DSN from Gmail) and a reply, and follows an
// unsubscribe link: each becomes a campaign event attributed to the campaign, on the
// contact's timeline and in the report; an email that is no campaign's gets none.
func TestEngagementOnTimeline(t *testing.T) {
	e := newEnv(t)
	in, err := inbox.Register(e.app, inbox.Config{Registry: e.reg, Addr: "127.0.0.1:0", Domain: "relata.test",
		Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)
	e.template(t, `<p>Hi {{.record.full_name}}</p>`)
	ids := map[string]string{}
	for _, a := range []string{"gone@client.test", "full@client.test", "ada@client.test", "una@client.test", "quiet@client.test"} {
		ids[a] = schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": a, "email": a, "owner": e.boss.Id}).Id
	}
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{"name": "All", "kind": segments.Dynamic, "filter": `email != ""`, "owner": e.boss.Id})
	c := e.campaign(t, seg, nil)
	if err := e.svc.Send(c.Id); err != nil {
		t.Fatal(err)
	}
	e.run(t)
	if n := len(e.smtp.Messages()); n != 5 {
		t.Fatalf("%d messages sent, want 5", n)
	}
	emailOf := func(addr string) *core.Record {
		t.Helper()
		r, err := e.app.FindFirstRecordByData(campaigns.RecipientsCollection, "email", addr)
		if err != nil {
			t.Fatal(err)
		}
		em, err := e.app.FindRecordById(outbox.Collection, r.GetString("email_id"))
		if err != nil {
			t.Fatal(err)
		}
		return em
	}
	fixture := func(name string, repl ...string) string {
		b, err := os.ReadFile("../inbox/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.NewReplacer(repl...).Replace(string(b))
	}
	deliver := func(from, raw string) {
		t.Helper()
		c, err := smtp.Dial(in.Addr()) // plain SMTP on loopback, as a remote MTA would
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SendMail(from, []string{"postmaster@relata.test"}, strings.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
	}
	deliver("", fixture("postfix_hard.eml", "{{RCPT}}", "postmaster@relata.test", "{{ORIGINAL_ID}}", emailOf("gone@client.test").GetString("message_id"), "{{DSN_ID}}", "<dsn-hard@mx.test>"))
	deliver("", fixture("gmail_soft.eml", "{{RCPT}}", "postmaster@relata.test", "{{ORIGINAL_ID}}", emailOf("full@client.test").GetString("message_id"), "{{DSN_ID}}", "<dsn-soft@mx.test>"))
	deliver("ada@client.test", fixture("reply.eml", "{{IN_REPLY_TO}}", emailOf("ada@client.test").GetString("message_id")))
	// Una unsubscribes with the link of her email.
	var unsub string
	for _, m := range e.smtp.Messages() {
		if m.To[0] == "una@client.test" {
			for _, h := range hrefs(m.Part("text/html")) {
				if strings.Contains(h, "/unsubscribe/") {
					unsub = h
				}
			}
		}
	}
	if code := post(t, unsub, "List-Unsubscribe=One-Click"); code != 200 {
		t.Fatalf("unsubscribe %q = %d", unsub, code)
	}
	// A reply to an email that is no campaign's is not a campaign event.
	other, err := outbox.Enqueue(e.app, outbox.Message{To: []string{"quiet@client.test"}, Subject: "Your quote", Text: "Here.",
		Object: "contacts", RecordID: ids["quiet@client.test"]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sender.Drain(); err != nil {
		t.Fatal(err)
	}
	other, _ = e.app.FindRecordById(outbox.Collection, other.Id)
	deliver("quiet@client.test", fixture("reply.eml", "{{IN_REPLY_TO}}", other.GetString("message_id"), "Ada Lovelace <ada@client.test>", "quiet@client.test", "<reply-1@client.test>", "<reply-2@client.test>"))
	if other, _ = e.app.FindRecordById(outbox.Collection, other.Id); other.GetString("replied_at") == "" {
		t.Fatal("the inbox did not match the reply to the transactional email")
	}

	want := map[string]string{
		"gone@client.test": "bounced (hard 5.1.1)",
		"full@client.test": "bounced (soft 4.2.2)",
		"ada@client.test":  "Replied to the campaign Spring",
		"una@client.test":  "Unsubscribed from the campaign Spring",
	}
	for addr, title := range want {
		var timeline struct {
			Items []struct {
				Kind  string `json:"kind"`
				Title string `json:"title"`
			} `json:"items"`
		}
		if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/timeline/contacts/"+ids[addr], e.bossTok, nil, &timeline); code != 200 {
			t.Fatalf("timeline = %d", code)
		}
		n := 0
		for _, it := range timeline.Items {
			if it.Kind == "campaign" && strings.Contains(it.Title, title) && strings.Contains(it.Title, "Spring") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d timeline entries %q, want 1: %+v", addr, n, title, timeline.Items)
		}
	}
	var events []struct {
		Type    string `db:"type"`
		Contact string `db:"contact"`
	}
	if err := e.app.DB().Select("type", "contact").From(campaigns.EventsCollection).Where(dbx.HashExp{"campaign": c.Id}).All(&events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 4 {
		t.Errorf("%d campaign events, want 4 (two bounces, a reply, an unsubscribe): %+v", len(events), events)
	}
	for _, ev := range events {
		if ev.Contact == ids["quiet@client.test"] {
			t.Errorf("the reply to a transactional email became a campaign event %+v", ev)
		}
	}
	r := e.report(t, c.Id)
	if r.Bounced != 1 || r.Replied != 1 || r.Unsubscribed != 1 || r.Delivered != 4 {
		t.Errorf("report: bounced %d replied %d unsubscribed %d delivered %d; want 1, 1, 1, 4 (a delay is no bounce)",
			r.Bounced, r.Replied, r.Unsubscribed, r.Delivered)
	}
}
