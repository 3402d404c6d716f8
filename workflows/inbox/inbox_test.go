package inbox_test

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// crm is a small sales setup: Rita (team north) owns Ada (of Acme Client, with two open
// deals and a won one) and Bob; Carol belongs to Sam of team south, whom Rita cannot see.
type crm struct {
	rita, sam                                    *core.Record
	acme, ada, bob, carol, open1, open2, wonDeal *core.Record
}

func seed(t *testing.T, e *env) *crm {
	t.Helper()
	c := &crm{}
	c.rita, _ = schemastest.NewUser(t, e.app, "rep@acme.test", "sales", "north")
	c.sam, _ = schemastest.NewUser(t, e.app, "sam@acme.test", "sales", "south")
	c.acme = schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Acme Client", "owner": c.rita.Id})
	c.ada = schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada Lovelace", "email": "Ada@Client.test", "company": c.acme.Id, "owner": c.rita.Id})
	c.bob = schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Bob", "email": "bob@client.test", "owner": c.rita.Id})
	c.carol = schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Carol", "email": "carol@client.test", "owner": c.sam.Id})
	c.wonDeal = schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Won", "stage": "won", "contacts": []string{c.ada.Id}, "company": c.acme.Id, "owner": c.rita.Id})
	c.open1 = schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Renewal", "stage": "proposal", "contacts": []string{c.ada.Id}, "company": c.acme.Id, "owner": c.rita.Id})
	c.open2 = schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Upsell", "stage": "lead", "contacts": []string{c.ada.Id, c.bob.Id}, "owner": c.rita.Id})
	return c
}

func TestBCCLogging(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	c := seed(t, e)
	raw := readFixture(t, "bcc.eml")
	if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	in := e.lastInbound(t)
	if in.GetString("kind") != inbox.KindLogged || in.GetString("user") != c.rita.Id {
		t.Fatalf("inbound = %s by %q (%s); want logged by Rita", in.GetString("kind"), in.GetString("user"), in.GetString("result"))
	}
	if h := in.GetString("html"); strings.Contains(h, "<script") || strings.Contains(h, "onerror") || !strings.Contains(h, "rinnovo") {
		t.Errorf("stored HTML not sanitised: %q", h)
	}
	acts := e.activities(t, dbx.HashExp{"type": "email"})
	// Ada: one activity with her company and the newest open deal, one for the other open
	// deal; Bob: one, with the open deal he shares with Ada. The won deal gets nothing.
	type link struct{ contact, company, deal string }
	got := map[link]int{}
	for _, a := range acts {
		if a.GetString("subject") != "Proposta per il rinnovo – Q1" || !a.GetBool("done") || a.GetString("owner") != c.rita.Id {
			t.Errorf("activity %s: subject %q done %v owner %q", a.Id, a.GetString("subject"), a.GetBool("done"), a.GetString("owner"))
		}
		if !strings.Contains(a.GetString("body"), "proposta di rinnovo") {
			t.Errorf("activity body %q", a.GetString("body"))
		}
		got[link{a.GetString("contact"), a.GetString("company"), a.GetString("deal")}]++
	}
	// Ada's activity carries the most recently updated open deal; the two were made in the
	// same millisecond, so either may be it.
	first, other := c.open2.Id, c.open1.Id
	if got[link{c.ada.Id, c.acme.Id, c.open1.Id}] == 1 {
		first, other = other, first
	}
	want := map[link]int{
		{c.ada.Id, c.acme.Id, first}: 1,
		{"", "", other}:              1,
		{c.bob.Id, "", c.open2.Id}:   1,
	}
	if len(got) != len(want) {
		t.Errorf("activities %v; want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("activity %+v: %d; want %d (all: %v)", k, got[k], n, got)
		}
	}
	for _, a := range acts {
		if a.GetString("deal") == c.wonDeal.Id {
			t.Errorf("the won deal got activity %s", a.Id)
		}
	}

	// The same message again (a resend, or BCC plus forward): logged once.
	if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "activities", dbx.HashExp{"type": "email"}); n != 3 {
		t.Errorf("after a duplicate: %d email activities; want 3", n)
	}

	// A contact Rita may not see (Carol, team south) is not logged on.
	hidden := "From: rep@acme.test\r\nTo: carol@client.test\r\nSubject: Hi Carol\r\nMessage-ID: <carol-1@acme.test>\r\n\r\nHello\r\n"
	if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, hidden); err != nil {
		t.Fatal(err)
	}
	if n := len(e.activities(t, dbx.HashExp{"contact": c.carol.Id})); n != 0 {
		t.Errorf("%d activities on a contact the sender cannot see", n)
	}
	if r := e.lastInbound(t).GetString("result"); !strings.Contains(r, "carol@client.test") {
		t.Errorf("result %q does not name the address it could not log", r)
	}
}

func TestForwardLogging(t *testing.T) {
	t.Parallel()
	scenarios := []struct{ name, file, subject string }{
		{"inline", "forward_inline.eml", "Domanda sul contratto"},
		{"attached", "forward_attached.eml", "Order confirmation"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newInbox(t, inbox.Config{})
			c := seed(t, e)
			if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, readFixture(t, sc.file)); err != nil {
				t.Fatal(err)
			}
			acts := e.activities(t, dbx.HashExp{"contact": c.ada.Id})
			if len(acts) != 1 || acts[0].GetString("subject") != sc.subject || acts[0].GetString("company") != c.acme.Id {
				t.Fatalf("Ada's activities %v; want one %q with her company (%s)", acts, sc.subject, e.lastInbound(t).GetString("result"))
			}
			// Rita, the forwarder, is the original recipient: never logged as a contact.
			if n := e.count(t, "activities", dbx.HashExp{"type": "email"}); n != 2 {
				t.Errorf("%d email activities; want 2 (Ada, and her second open deal)", n)
			}
		})
	}
}

func TestUnknownSenderQuarantined(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	seed(t, e)
	if err := e.send(t, "mallory@evil.test", []string{"log@" + domain}, readFixture(t, "unknown_sender.eml")); err != nil {
		t.Fatal(err)
	}
	if k := e.lastInbound(t).GetString("kind"); k != inbox.KindQuarantined {
		t.Errorf("kind %q; want quarantined", k)
	}
	if n := e.count(t, "activities", nil); n != 0 {
		t.Errorf("%d activities from an unknown sender", n)
	}
}

func TestNeverAnOpenRelay(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	seed(t, e)
	raw := "From: x@evil.test\r\nTo: victim@other.test\r\nSubject: relay\r\n\r\nspam\r\n"
	for _, from := range []string{"", "mallory@evil.test", "rep@acme.test", "log@" + domain} {
		for _, rcpt := range []string{
			"victim@other.test",
			"log@" + domain + ".evil.test",
			"log@sub." + domain,
			"log%other.test@" + domain,
			"bounce+nosuchemail1@" + domain,
			"anyone@" + domain,
		} {
			err := e.send(t, from, []string{rcpt}, raw)
			if c := code(err); c != 550 && c != 554 {
				t.Errorf("MAIL FROM:<%s> RCPT TO:<%s>: %v (code %d); want 550 or 554", from, rcpt, err, c)
			}
		}
	}
	if n := e.count(t, inbox.Collection, nil); n != 0 {
		t.Errorf("%d messages stored from relay attempts", n)
	}
}

func TestSizeLimit(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{MaxMessageBytes: 64 << 10})
	seed(t, e)
	raw := "From: rep@acme.test\r\nTo: ada@client.test\r\nSubject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 76)+"\r\n", 1001)
	err := e.send(t, "rep@acme.test", []string{"log@" + domain}, raw)
	if c := code(err); c != 552 {
		t.Errorf("oversized message: %v (code %d); want 552", err, c)
	}
	if n := e.count(t, inbox.Collection, nil); n != 0 {
		t.Errorf("%d oversized messages stored", n)
	}
}

func TestStartTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	e := newInbox(t, inbox.Config{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	seed(t, e)
	err := sendTo(t, e.in.Addr(), &tls.Config{RootCAs: pool, ServerName: domain}, "rep@acme.test", []string{"log@" + domain}, readFixture(t, "bcc.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if k := e.lastInbound(t).GetString("kind"); k != inbox.KindLogged {
		t.Errorf("kind %q over STARTTLS; want logged", k)
	}
}

// sent sends one email through the real outbox to an SMTP sink, with the inbox's domain as
// the VERP return domain, and returns its record.
func (e *env) sent(t *testing.T, sink *outboxtest.Server, to, object, recordID string) *core.Record {
	t.Helper()
	s, err := outbox.Register(e.app, outbox.Config{
		Registry: e.reg, InboundDomain: domain, From: "crm@relata.test", Getenv: noEnv,
		SMTP: outbox.SMTP{Host: sink.Host, Port: sink.Port, TLS: outbox.TLSStartTLS, RootCAs: sink.CertPool},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := outbox.Enqueue(e.app, outbox.Message{To: []string{to}, Subject: "Your quote", Text: "Here is your quote.", Object: object, RecordID: recordID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Drain(); err != nil {
		t.Fatal(err)
	}
	rec, err = e.app.FindRecordById(outbox.Collection, rec.Id)
	if err != nil || rec.GetString("status") != outbox.StatusSent {
		t.Fatalf("email not sent: %v %v", err, rec)
	}
	return rec
}

func TestReplies(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	c := seed(t, e)
	sink := outboxtest.NewServer(t, outboxtest.Options{})
	email := e.sent(t, sink, "ada@client.test", "contacts", c.ada.Id)

	msgs := sink.Messages()
	if want := e.verp(t, email.Id); len(msgs) != 1 || msgs[0].From != want {
		t.Fatalf("envelope sender %v; want %s (VERP)", msgs, want)
	}
	raw := readFixture(t, "reply.eml", "{{IN_REPLY_TO}}", email.GetString("message_id"))
	if err := e.send(t, "ada@client.test", []string{"reply@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	email, _ = e.app.FindRecordById(outbox.Collection, email.Id)
	if email.GetString("replied_at") == "" {
		t.Errorf("email not marked replied (%s)", e.lastInbound(t).GetString("result"))
	}
	in := e.lastInbound(t)
	if in.GetString("kind") != inbox.KindReply || in.GetString("email") != email.Id {
		t.Errorf("inbound kind %q email %q; want reply to %s", in.GetString("kind"), in.GetString("email"), email.Id)
	}
	onTimeline := e.activities(t, dbx.HashExp{"contact": c.ada.Id, "type": "email"})
	tasks := e.activities(t, dbx.HashExp{"contact": c.ada.Id, "type": "task", "owner": c.rita.Id, "done": false})
	// The sent email itself is on Ada's timeline too (the outbox logs it).
	if len(onTimeline) != 2 || len(tasks) != 1 {
		t.Fatalf("Ada's timeline: %d emails, %d open tasks for Rita; want 2 and 1", len(onTimeline), len(tasks))
	}
	if !strings.Contains(tasks[0].GetString("subject"), "ada@client.test") || tasks[0].GetString("company") != c.acme.Id {
		t.Errorf("task %q company %q", tasks[0].GetString("subject"), tasks[0].GetString("company"))
	}

	// An auto-reply to the VERP address, without In-Reply-To, also matches.
	email2 := e.sent(t, sink, "bob@client.test", "contacts", c.bob.Id)
	auto := "From: bob@client.test\r\nTo: crm@relata.test\r\nSubject: Out of office\r\nMessage-ID: <ooo-1@client.test>\r\n\r\nBack on Monday.\r\n"
	if err := e.send(t, "bob@client.test", []string{e.verp(t, email2.Id)}, auto); err != nil {
		t.Fatal(err)
	}
	if email2, _ = e.app.FindRecordById(outbox.Collection, email2.Id); email2.GetString("replied_at") == "" {
		t.Errorf("VERP reply not matched (%s)", e.lastInbound(t).GetString("result"))
	}

	// A plain-text notice from the null sender (an old-style bounce) is no reply.
	email3 := e.sent(t, sink, "bob@client.test", "contacts", c.bob.Id)
	notice := "From: MAILER-DAEMON@old.test\r\nTo: bounce+" + email3.Id + "@" + domain + "\r\nSubject: failure notice\r\nMessage-ID: <old-1@old.test>\r\n\r\nSorry, I could not deliver.\r\n"
	if err := e.send(t, "", []string{e.verp(t, email3.Id)}, notice); err != nil {
		t.Fatal(err)
	}
	if email3, _ = e.app.FindRecordById(outbox.Collection, email3.Id); email3.GetString("replied_at") != "" {
		t.Error("a null-sender notice marked the email replied")
	}
	if k := e.lastInbound(t).GetString("kind"); k != inbox.KindUnmatched {
		t.Errorf("null-sender notice stored as %q; want unmatched", k)
	}
}

func TestHardBounceSuppresses(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name string
		rcpt func(t *testing.T, e *env, email *core.Record) string
	}{
		{"by VERP address", func(t *testing.T, e *env, email *core.Record) string { return e.verp(t, email.Id) }},
		{"by returned Message-ID", func(*testing.T, *env, *core.Record) string { return "postmaster@" + domain }},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newInbox(t, inbox.Config{})
			seed(t, e)
			sink := outboxtest.NewServer(t, outboxtest.Options{})
			email := e.sent(t, sink, "gone@client.test", "", "")
			rcpt := sc.rcpt(t, e, email)
			raw := readFixture(t, "postfix_hard.eml", "{{RCPT}}", rcpt, "{{ORIGINAL_ID}}", email.GetString("message_id"), "{{DSN_ID}}", dsnID(1))
			if err := e.send(t, "", []string{rcpt}, raw); err != nil {
				t.Fatal(err)
			}
			sup, err := e.app.FindFirstRecordByData(outbox.SuppressionsCollection, "email", "gone@client.test")
			if err != nil {
				t.Fatalf("address not suppressed (%s)", e.lastInbound(t).GetString("result"))
			}
			if sup.GetString("reason") != outbox.ReasonBounce || !strings.Contains(sup.GetString("source"), "5.1.1") {
				t.Errorf("suppression reason %q source %q", sup.GetString("reason"), sup.GetString("source"))
			}
			if email, _ = e.app.FindRecordById(outbox.Collection, email.Id); email.GetString("bounced_at") == "" {
				t.Error("email not marked bounced")
			}
		})
	}
}

// TestForgedReportsSuppressNothing: anyone can send a delivery report; one about mail that
// was not sent from here, or naming another recipient, must not suppress customers.
func TestForgedReportsSuppressNothing(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	seed(t, e)
	sink := outboxtest.NewServer(t, outboxtest.Options{})
	email := e.sent(t, sink, "someone@client.test", "", "")
	scenarios := []struct{ name, rcpt, original string }{
		{"unknown Message-ID", "postmaster@" + domain, "<forged-1@evil.test>"},
		{"another recipient than the email's", e.verp(t, email.Id), email.GetString("message_id")},
	}
	for i, sc := range scenarios {
		raw := readFixture(t, "postfix_hard.eml", "{{RCPT}}", sc.rcpt, "{{ORIGINAL_ID}}", sc.original, "{{DSN_ID}}", dsnID(i))
		if err := e.send(t, "", []string{sc.rcpt}, raw); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, outbox.SuppressionsCollection, nil); n != 0 {
			t.Errorf("%s: %d addresses suppressed (%s)", sc.name, n, e.lastInbound(t).GetString("result"))
		}
	}
}

func TestSoftBouncesSuppressAfterThree(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	seed(t, e)
	sink := outboxtest.NewServer(t, outboxtest.Options{})
	suppressed := func() bool {
		_, err := e.app.FindFirstRecordByData(outbox.SuppressionsCollection, "email", "full@client.test")
		return err == nil
	}
	for i := 1; i <= 3; i++ {
		email := e.sent(t, sink, "full@client.test", "", "")
		rcpt := e.verp(t, email.Id)
		dsn := func(n int) string {
			return readFixture(t, "gmail_soft.eml", "{{RCPT}}", rcpt, "{{ORIGINAL_ID}}", email.GetString("message_id"), "{{DSN_ID}}", dsnID(n))
		}
		if err := e.send(t, "", []string{rcpt}, dsn(i)); err != nil {
			t.Fatal(err)
		}
		// A second notice about the same message (delay, then failure) is not another bounce.
		if err := e.send(t, "", []string{rcpt}, dsn(100+i)); err != nil {
			t.Fatal(err)
		}
		if got, want := suppressed(), i == 3; got != want {
			t.Fatalf("after %d soft bounces: suppressed %v; want %v (%s)", i, got, want, e.lastInbound(t).GetString("result"))
		}
	}
	if n := e.count(t, inbox.BouncesCollection, dbx.HashExp{"email": "full@client.test", "class": "soft"}); n != 3 {
		t.Errorf("%d soft bounces recorded; want 3", n)
	}
}

func TestStopClosesTheListener(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	addr := e.in.Addr()
	e.in.Stop()
	if e.in.Addr() != "" {
		t.Error("Addr after Stop")
	}
	if c, err := netDial(addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", addr)
	}
}

// TestBCCToAThousandAddresses logs a mass mail: 5,001 To addresses (a 130 KB header), 300 of
// them contacts. The first 200 addresses are looked up, and the result says the rest were not;
// the stored To list is cut to 500.
func TestBCCToAThousandAddresses(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	c := seed(t, e)
	var to []string
	for i := 0; i < 5001; i++ {
		addr := fmt.Sprintf("person%04d@client.test", i)
		if i < 300 {
			schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": addr, "email": addr, "owner": c.rita.Id})
		}
		to = append(to, addr)
	}
	raw := "From: rep@acme.test\r\nTo: " + strings.Join(to, ",\r\n ") + "\r\nSubject: Newsletter by hand\r\nMessage-ID: <mass-1@acme.test>\r\n\r\nHello all\r\n"
	if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "activities", dbx.HashExp{"type": "email"}); n != 200 {
		t.Errorf("%d activities; want 200", n)
	}
	in := e.lastInbound(t)
	if r := in.GetString("result"); !strings.Contains(r, "only the first 200 addresses") {
		t.Errorf("result %q does not say addresses were left out", r)
	}
	var stored []string
	if err := in.UnmarshalJSONField("to", &stored); err != nil || len(stored) != 500 {
		t.Errorf("stored To: %d addresses (%v); want 500", len(stored), err)
	}
	// And at most 100 recipients per SMTP transaction.
	var rcpts []string
	for i := 0; i < 101; i++ {
		rcpts = append(rcpts, "log@"+domain)
	}
	if err := e.send(t, "rep@acme.test", rcpts, raw); code(err) != 452 {
		t.Errorf("101 recipients: %v; want 452", err)
	}
}

// TestBounceRecordedOnce: whoever received an email knows its VERP address and can send
// reports about it. One naming the recipient a thousand times, and the same report sent
// again, record one bounce (they wrote a row and suppressed the address again each time).
func TestBounceRecordedOnce(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	seed(t, e)
	sink := outboxtest.NewServer(t, outboxtest.Options{})
	email := e.sent(t, sink, "gone@client.test", "", "")
	rcpt := e.verp(t, email.Id)
	block := "Final-Recipient: rfc822; gone@client.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
	for i := 0; i < 2; i++ {
		raw := readFixture(t, "postfix_hard.eml", "{{RCPT}}", rcpt, "{{ORIGINAL_ID}}", email.GetString("message_id"), "{{DSN_ID}}", dsnID(i))
		raw = strings.Replace(raw, "Final-Recipient: rfc822; gone@client.test", strings.Repeat(block, 999)+"Final-Recipient: rfc822; gone@client.test", 1)
		if err := e.send(t, "", []string{rcpt}, raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(t, inbox.BouncesCollection, dbx.HashExp{"email": "gone@client.test"}); n != 1 {
		t.Errorf("%d bounces recorded; want 1 (%s)", n, clip(e.lastInbound(t).GetString("result"), 300))
	}
	if n := e.count(t, outbox.SuppressionsCollection, dbx.HashExp{"email": "gone@client.test"}); n != 1 {
		t.Errorf("%d suppressions; want 1", n)
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
