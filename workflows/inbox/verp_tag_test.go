package inbox_test

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestVERPTagRequired: a return address names its email with a tag only the server can
// make. A forged hard bounce to an untagged or wrongly tagged address of an email sent since
// tags exist is refused at RCPT and suppresses no one; the tagged address works; an email
// queued before tags existed still takes its untagged address.
func TestVERPTagRequired(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	seed(t, e)
	// queued before the key (and so the tags) existed: a year ago
	legacy, err := outbox.Enqueue(e.app, outbox.Message{To: []string{"old@client.test"}, Subject: "Old", Text: "Old."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB().Update(outbox.Collection, map[string]any{"created": types.NowDateTime().AddDate(-1, 0, 0)},
		nil).Execute(); err != nil {
		t.Fatal(err)
	}
	key, _, err := outbox.VERPKey(e.app) // made now, as when the server starts
	if err != nil {
		t.Fatal(err)
	}
	sink := outboxtest.NewServer(t, outboxtest.Options{})
	email := e.sent(t, sink, "victim@client.test", "", "")
	tagged := outbox.VERPLocal(key, email.Id)
	bounce := func(rcpt string, email *core.Record) error {
		raw := readFixture(t, "postfix_hard.eml", "{{RCPT}}", rcpt, "{{ORIGINAL_ID}}", "<forged@elsewhere.test>", "{{DSN_ID}}", dsnID(len(rcpt)))
		raw = strings.ReplaceAll(raw, "gone@client.test", email.GetString("to")[2:len(email.GetString("to"))-2])
		return e.send(t, "", []string{rcpt}, raw)
	}
	suppressed := func(addr string) bool {
		_, err := e.app.FindFirstRecordByData(outbox.SuppressionsCollection, "email", addr)
		return err == nil
	}
	for _, rcpt := range []string{
		"bounce+" + email.Id,                                           // untagged
		"bounce+" + email.Id + "-0000000000000000",                     // a wrong tag
		"bounce+" + email.Id + "-" + offByOne(tagged[len(tagged)-16:]), // one digit off
		"bounce+" + email.Id + "-",                                     // an empty tag
		"bounce+-" + tagged[len(tagged)-16:],                           // no id
	} {
		if err := bounce(rcpt+"@"+domain, email); code(err) != 550 {
			t.Errorf("RCPT TO:<%s@%s>: %v (code %d); want 550", rcpt, domain, err, code(err))
		}
	}
	if suppressed("victim@client.test") {
		t.Fatal("a bounce to a forged return address suppressed the recipient")
	}
	if err := bounce(tagged+"@"+domain, email); err != nil {
		t.Fatalf("the tagged return address: %v", err)
	}
	if !suppressed("victim@client.test") {
		t.Errorf("a hard bounce to the tagged return address suppressed nothing (%s)", e.lastInbound(t).GetString("result"))
	}
	if err := bounce("bounce+"+legacy.Id+"@"+domain, legacy); err != nil {
		t.Fatalf("the untagged return address of an email queued before tags: %v", err)
	}
	if !suppressed("old@client.test") {
		t.Errorf("a hard bounce to an email queued before tags suppressed nothing (%s)", e.lastInbound(t).GetString("result"))
	}
}

// offByOne changes the last hex digit of tag.
func offByOne(tag string) string {
	last := "0"
	if strings.HasSuffix(tag, "0") {
		last = "1"
	}
	return tag[:len(tag)-1] + last
}
