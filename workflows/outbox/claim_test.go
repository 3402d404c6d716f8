package outbox_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestClaimUsesIndex checks the sender's claim against a backlog: SQLite reads the queued
// emails from the partial index idx_emails_claim in claim order, with no temporary B-tree
// (a sort of the whole backlog per batch made a 100,000-email campaign quadratic), and the
// statement claims exactly the batch: expired leases first, then the oldest due emails.
func TestClaimUsesIndex(t *testing.T) {
	e := newSender(t, outboxtest.Options{}, outbox.Config{})
	e.sender.Stop()
	ms := make([]outbox.Message, 3000)
	for i := range ms {
		ms[i] = outbox.Message{To: []string{fmt.Sprintf("r%04d@example.com", i)}, Subject: "s", Text: "t"}
	}
	ids, err := outbox.EnqueueMany(e.app, ms)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(types.DefaultDateLayout) }
	// Half sent long ago, 10 due later, 5 whose sender crashed (lease expired), 3 still leased.
	set := func(from, to int, p dbx.Params) {
		in := make([]any, 0, to-from)
		for _, id := range ids[from:to] {
			in = append(in, id)
		}
		if _, err := e.app.DB().Update(outbox.Collection, p, dbx.In("id", in...)).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	set(0, 1500, dbx.Params{"status": outbox.StatusSent})
	set(1500, 1510, dbx.Params{"next_at": at(time.Hour)})
	set(1510, 1515, dbx.Params{"status": "sending", "lease_until": at(-time.Minute)})
	set(1515, 1518, dbx.Params{"status": "sending", "lease_until": at(time.Hour)})
	// The oldest due: 20 queued an hour ago.
	set(2900, 2920, dbx.Params{"next_at": at(-time.Hour)})

	params := dbx.Params{"now": at(0), "lease": at(15 * time.Minute)}
	plan := schemastest.QueryPlan(t, e.app, outbox.ClaimQuery(30), params)
	if strings.Contains(plan, "TEMP B-TREE") || strings.Count(plan, "idx_emails_claim") != 2 {
		t.Fatalf("the claim sorts the backlog or misses its index:\n%s", plan)
	}

	var rows []dbx.NullStringMap // the claim returns whole rows
	if err := e.app.DB().NewQuery(outbox.ClaimQuery(30)).Bind(params).All(&rows); err != nil {
		t.Fatal(err)
	}
	var claimed []string
	for _, r := range rows {
		claimed = append(claimed, r["id"].String)
	}
	if len(claimed) != 30 {
		t.Fatalf("claimed %d, want the batch of 30", len(claimed))
	}
	want := map[string]bool{}
	for _, id := range ids[1510:1515] {
		want[id] = true // expired leases
	}
	for _, id := range ids[2900:2920] {
		want[id] = true // oldest due
	}
	got := map[string]bool{}
	for _, id := range claimed {
		got[id] = true
	}
	for id := range want {
		if !got[id] {
			t.Errorf("email %s (expired lease or oldest due) not claimed", id)
		}
	}
	for _, id := range append(append([]string{}, ids[1500:1510]...), ids[1515:1518]...) {
		if got[id] {
			t.Errorf("email %s (not due, or leased) claimed", id)
		}
	}
	var sending int
	if err := e.app.DB().Select("count(*)").From(outbox.Collection).Where(dbx.HashExp{"status": "sending"}).Row(&sending); err != nil {
		t.Fatal(err)
	}
	if sending != 33 {
		t.Errorf("%d emails sending, want the 30 claimed and the 3 leased", sending)
	}
}
