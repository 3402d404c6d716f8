package campaigns_test

import (
	"fmt"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/campaigns"
)

// BenchmarkQueueBacklog reads one batch of 500 pending recipients of a 100,000-recipient
// campaign: the read as it was before the pending index (the campaign/status index, then a
// sort of every pending row by id) against pendingQuery, in the same process, back to back.
//
//	go test ./workflows/campaigns -run '^$' -bench QueueBacklog -benchtime 20x -count 3
func BenchmarkQueueBacklog(b *testing.B) {
	app := schemastest.OpenApp(b, b.TempDir())
	cols := []string{"id", "campaign", "key", "email", "contact", "status", "reason", "email_id", "queued_at",
		"opened_at", "clicked_at", "created", "updated"}
	rows := make([][]any, 0, 100000)
	for i := 0; i < 100000; i++ {
		addr := fmt.Sprintf("r%06d@example.com", i)
		rows = append(rows, []any{core.GenerateDefaultRandomId(), "campaignbench01", addr, addr, "", campaigns.RecipientPending,
			"", "", "", "", "", "2026-01-01 00:00:00.000Z", "2026-01-01 00:00:00.000Z"})
	}
	if err := app.RunInTransaction(func(tx core.App) error { return schemas.InsertMany(tx, campaigns.RecipientsCollection, cols, rows) }); err != nil {
		b.Fatal(err)
	}
	b.Run("sorted", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var ids []string
			err := app.DB().NewQuery(`SELECT id FROM campaign_recipients INDEXED BY idx_campaign_recipients_status
				WHERE campaign = {:c} AND status = 'pending' ORDER BY id LIMIT 500`).Bind(dbx.Params{"c": "campaignbench01"}).Column(&ids)
			if err != nil || len(ids) != 500 {
				b.Fatal(len(ids), err)
			}
		}
	})
	b.Run("indexed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var recs []*core.Record
			if err := campaigns.PendingQuery(app, "campaignbench01", 500).All(&recs); err != nil || len(recs) != 500 {
				b.Fatal(len(recs), err)
			}
		}
	})
}
