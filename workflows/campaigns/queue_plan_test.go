package campaigns_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/campaigns"
)

// TestQueueUsesIndex checks the queue's read of pending recipients against a big campaign:
// SQLite walks idx_campaign_recipients_pending in id order, with no temporary B-tree (it
// sorted every pending row for each batch of 500 before), and returns the lowest ids pending
// of that campaign only.
func TestQueueUsesIndex(t *testing.T) {
	e := newEnv(t)
	cols := []string{"id", "campaign", "key", "email", "contact", "status", "reason", "email_id", "queued_at",
		"opened_at", "clicked_at", "created", "updated"}
	var rows [][]any
	var pending []string
	for _, c := range []string{"campaignaaaaaaa", "campaignbbbbbbb"} {
		for i := 0; i < 3000; i++ {
			id := core.GenerateDefaultRandomId()
			status := campaigns.RecipientQueued
			if i%3 == 0 {
				status = campaigns.RecipientPending
				if c == "campaignbbbbbbb" {
					pending = append(pending, id)
				}
			}
			addr := fmt.Sprintf("r%d@example.com", i)
			rows = append(rows, []any{id, c, addr, addr, "", status, "", "", "", "", "", "2026-01-01 00:00:00.000Z", "2026-01-01 00:00:00.000Z"})
		}
	}
	if err := schemas.InsertMany(e.app, campaigns.RecipientsCollection, cols, rows); err != nil {
		t.Fatal(err)
	}
	q := campaigns.PendingQuery(e.app, "campaignbbbbbbb", 500)
	plan := schemastest.QueryPlan(t, e.app, q.SQL(), q.Params())
	if strings.Contains(plan, "TEMP B-TREE") || strings.Count(plan, "idx_campaign_recipients_pending") != 2 {
		t.Fatalf("the queue sorts the backlog or misses its index:\n%s", plan)
	}
	var got []*core.Record
	if err := q.All(&got); err != nil {
		t.Fatal(err)
	}
	slices.Sort(pending)
	if len(got) != 500 {
		t.Fatalf("read %d, want 500", len(got))
	}
	for i, r := range got {
		if r.Id != pending[i] {
			t.Fatalf("row %d is %s (%s, %s), want pending %s in id order", i, r.Id, r.GetString("campaign"), r.GetString("status"), pending[i])
		}
	}
}
