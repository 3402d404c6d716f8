package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestSiblingOptOutStopsMarketing: two contacts of two teams share a mailbox, Ann@example.com
// and ann@example.com. A marketing email is queued to one; before the sender runs, the other
// unsubscribes, is set do_not_email or withdraws her marketing consent: the email is
// suppressed, with a reason that says why without naming the other team's record. In either
// order, also for an email about no record; a consent waiting for its double opt-in refuses
// nothing, as for the contact's own check; transactional mail to the address and marketing
// mail to an unrelated address still go out. The batch the sender preloads and the check of
// one email give the same answer.
func TestSiblingOptOutStopsMarketing(t *testing.T) {
	t.Parallel()
	e := newServed(t, outboxtest.Options{}, outbox.Config{})
	north, _ := schemastest.NewUser(t, e.app, "nora@relata.test", "sales", "north")
	south, _ := schemastest.NewUser(t, e.app, "sam@relata.test", "sales", "south")

	consent := func(contact *core.Record, values map[string]any) *core.Record {
		base := map[string]any{"form": "newsletter", "object": "contacts", "record_id": contact.Id, "text": "yes", "version": "1",
			"given_at": "2026-12-01 10:00:00.000Z", "purpose": "marketing_email", "basis": "consent"}
		for k, v := range values {
			base[k] = v
		}
		return schemastest.MustCreate(t, e.app, "consents", base)
	}
	unsubscribe := func(t *testing.T, other *core.Record) {
		tok, err := e.sender.Token(other.GetString("email"), "")
		if err != nil {
			t.Fatal(err)
		}
		if code, body := post(t, e.srv.URL+"/unsubscribe/"+tok, "List-Unsubscribe=One-Click"); code != 200 {
			t.Fatalf("unsubscribe = %d %s", code, body)
		}
	}
	doNotEmail := func(t *testing.T, other *core.Record) {
		other.Set("do_not_email", true)
		if err := e.app.Save(other); err != nil {
			t.Fatal(err)
		}
	}
	withdraw := func(t *testing.T, other *core.Record) {
		c := consent(other, nil)
		c.Set("withdrawn_at", "2026-12-03 09:00:00.000Z")
		if err := e.app.Save(c); err != nil {
			t.Fatal(err)
		}
	}
	pending := func(t *testing.T, other *core.Record) {
		consent(other, map[string]any{"needs_confirmation": true})
	}

	scenarios := []struct {
		name     string
		toSecond bool // mail the team B contact (ann@), the team A one (Ann@) opts out
		noRecord bool // the email is about no record
		optOut   func(*testing.T, *core.Record)
		why      string // "": sent
	}{
		{"the other unsubscribes through her link", false, false, unsubscribe, "is on the suppression list (unsubscribe"},
		{"the other is set do_not_email", false, false, doNotEmail, "a contact with this address has do_not_email set"},
		{"the other withdraws her marketing consent", false, false, withdraw, "a contact with this address has no valid marketing consent"},
		{"reverse: the capitalised one unsubscribes", true, false, unsubscribe, "is on the suppression list (unsubscribe"},
		{"reverse: the capitalised one is set do_not_email", true, false, doNotEmail, "a contact with this address has do_not_email set"},
		{"reverse: the capitalised one withdraws her consent", true, false, withdraw, "a contact with this address has no valid marketing consent"},
		{"an email about no record", false, true, doNotEmail, "a contact with this address has do_not_email set"},
		{"the other's consent waits for her double opt-in: as if absent", false, false, pending, ""},
	}
	type queued struct {
		mkt, trx  *core.Record
		msg       outbox.Message
		other     *core.Record
		addr      string // the recipient's address
		single    string // the check of the email alone, before the batch
		why, name string
	}
	var all []queued
	for i, sc := range scenarios {
		first := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ann " + sc.name,
			"email": fmt.Sprintf("Ann%d@example.com", i), "owner": north.Id})
		second := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "ann " + sc.name,
			"email": fmt.Sprintf("ann%d@example.com", i), "owner": south.Id})
		to, other := first, second
		if sc.toSecond {
			to, other = second, first
		}
		m := outbox.Message{To: []string{"Ann <" + to.GetString("email") + ">"}, Category: outbox.Marketing, Subject: "News", Text: "x",
			Object: "contacts", RecordID: to.Id}
		if sc.noRecord {
			m.Object, m.RecordID = "", ""
		}
		q := queued{mkt: e.enqueue(t, m), msg: m, other: other, addr: to.GetString("email"), why: sc.why, name: sc.name}
		sc.optOut(t, other)
		q.trx = e.enqueue(t, outbox.Message{To: []string{to.GetString("email")}, Subject: "Your invoice", Text: "Attached.",
			Object: "contacts", RecordID: to.Id})
		var err error
		if q.single, err = e.sender.SuppressedReason(m); err != nil {
			t.Fatal(err)
		}
		all = append(all, q)
	}
	bob := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Bob", "email": "bob@example.com", "owner": north.Id})
	unrelated := e.enqueue(t, outbox.Message{To: []string{"bob@example.com"}, Category: outbox.Marketing, Subject: "News", Text: "x",
		Object: "contacts", RecordID: bob.Id})

	e.drain(t)
	want := map[string]bool{"bob@example.com": true}
	for _, q := range all {
		got := e.email(t, q.mkt.Id)
		status, why := got.GetString("status"), got.GetString("last_error")
		switch {
		case q.why == "" && status != outbox.StatusSent:
			t.Errorf("%s: marketing email %s %q; want sent", q.name, status, why)
		case q.why != "" && (status != outbox.StatusSuppressed || !strings.Contains(why, q.why)):
			t.Errorf("%s: marketing email %s %q; want suppressed: %q", q.name, status, why, q.why)
		case strings.Contains(why, q.other.Id):
			t.Errorf("%s: the reason %q names the other contact's record", q.name, why)
		case why != q.single:
			t.Errorf("%s: the batch says %q, the check of the email alone %q", q.name, why, q.single)
		}
		if q.why == "" {
			want[q.addr] = true
		}
		if got := e.email(t, q.trx.Id); got.GetString("status") != outbox.StatusSent {
			t.Errorf("%s: transactional email %s %q; want sent", q.name, got.GetString("status"), got.GetString("last_error"))
		}
	}
	if got := e.email(t, unrelated.Id); got.GetString("status") != outbox.StatusSent {
		t.Errorf("marketing email to an unrelated address: %s %q; want sent", got.GetString("status"), got.GetString("last_error"))
	}
	// What the server received: every invoice, and marketing mail only to the addresses it may go to.
	invoices, marketing := 0, map[string]bool{}
	for _, msg := range e.smtp.Messages() {
		switch msg.Header.Get("Subject") {
		case "Your invoice":
			invoices++
		case "News":
			for _, to := range msg.To {
				marketing[to] = true
			}
		}
	}
	if invoices != len(all) || len(marketing) != len(want) {
		t.Errorf("server got %d invoices and marketing mail to %v; want %d and %v", invoices, marketing, len(all), want)
	}
	for to := range marketing {
		if !want[to] {
			t.Errorf("marketing mail delivered to %s", to)
		}
	}
}

// TestOptedOutUsesIndex asks SQLite how it runs the look-up of the contacts that opted out
// by address: a seek per address in the lower-case index the object model gives every email
// field (schemas.AddressExpr), and a seek per contact found in the consents' index — not a scan of the contacts
// per email (a campaign of 100,000) — before and after ANALYZE, with many contacts.
func TestOptedOutUsesIndex(t *testing.T) {
	t.Parallel()
	e := newServed(t, outboxtest.Options{}, outbox.Config{})
	plan := func(t *testing.T) string {
		t.Helper()
		var mu sync.Mutex
		var looked []string
		capture := func(_ context.Context, _ time.Duration, q string, _ *sql.Rows, _ error) {
			if strings.Contains(q, "AS withdrawn") {
				mu.Lock()
				looked = append(looked, q)
				mu.Unlock()
			}
		}
		for _, b := range []dbx.Builder{e.app.ConcurrentDB(), e.app.NonconcurrentDB()} {
			b.(*dbx.DB).QueryLogFunc = capture
		}
		_, err := outbox.OptedOut(e.app, "marketing_email", []string{"ann@example.com", "p7@example.com"})
		for _, b := range []dbx.Builder{e.app.ConcurrentDB(), e.app.NonconcurrentDB()} {
			b.(*dbx.DB).QueryLogFunc = nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(looked) != 1 {
			t.Fatalf("captured %d look-ups; want 1: %q", len(looked), looked)
		}
		var rows []struct {
			Detail string `db:"detail"`
		}
		// The logged statement has its parameters inlined: it can be explained as it is.
		if err := e.app.DB().NewQuery("EXPLAIN QUERY PLAN " + looked[0]).All(&rows); err != nil {
			t.Fatalf("explain %s: %v", looked[0], err)
		}
		var details []string
		for _, r := range rows {
			details = append(details, r.Detail)
		}
		return strings.Join(details, "; ")
	}
	check := func(t *testing.T, got string) {
		t.Helper()
		if !strings.Contains(got, "USING INDEX idx_contacts_email_lower") || strings.Contains(got, "SCAN c") ||
			!strings.Contains(got, "USING INDEX idx_consents_record") {
			t.Errorf("the look-up runs as %q; want searches of idx_contacts_email_lower and idx_consents_record, no scan", got)
		}
	}
	t.Run("without statistics", func(t *testing.T) { check(t, plan(t)) })

	rows := make([][]any, 3000)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("c%014d", i), fmt.Sprintf("P%d", i), fmt.Sprintf("p%d@example.com", i), i%50 == 0}
	}
	if err := schemas.InsertMany(e.app, "contacts", []string{"id", "full_name", "email", "do_not_email"}, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB().NewQuery("ANALYZE").Execute(); err != nil {
		t.Fatal(err)
	}
	t.Run("after ANALYZE", func(t *testing.T) { check(t, plan(t)) })
	got, err := outbox.OptedOut(e.app, "marketing_email", []string{"p0@example.com", "p1@example.com", "P50@EXAMPLE.COM"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["p0@example.com"] != outbox.OptedOutDoNotEmail || got["p50@example.com"] != outbox.OptedOutDoNotEmail {
		t.Errorf("OptedOut = %v; want p0 and p50 (do_not_email)", got)
	}
}
