package outbox_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
)

// sortedClaim is the claim's read before the claim index (kept here to measure against): one
// query over both kinds of due email, sorted — every due email of the backlog per batch.
const sortedClaim = `SELECT id FROM emails
	WHERE (status = 'queued' AND next_at <= {:now})
	   OR (status = 'sending' AND lease_until != '' AND lease_until <= {:now})
	ORDER BY next_at, created LIMIT {:n}`

// BenchmarkClaimBacklog reads one claim of 200 from a backlog of 100,000 queued emails (a
// 100,000-recipient campaign queued faster than it is sent), the old sorted read against the
// indexed one in the same process, back to back (the claim's UPDATE left out so the backlog
// stays the same).
//
//	go test ./workflows/outbox -run '^$' -bench ClaimBacklog -benchtime 200x -count 3
func BenchmarkClaimBacklog(b *testing.B) {
	app := schemastest.OpenApp(b, b.TempDir())
	ms := make([]outbox.Message, 1000)
	for round := 0; round < 100; round++ {
		for i := range ms {
			ms[i] = outbox.Message{To: []string{fmt.Sprintf("r%03d%03d@example.com", round, i)}, Subject: "News", Text: "Hello", Category: outbox.Marketing}
		}
		if _, err := outbox.EnqueueMany(app, ms); err != nil {
			b.Fatal(err)
		}
	}
	params := dbx.Params{"now": time.Now().Add(time.Minute).UTC().Format(types.DefaultDateLayout), "n": 200}
	for _, bc := range []struct{ name, sql string }{{"sorted", sortedClaim}, {"indexed", outbox.ClaimSelect(200)}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var ids []string
				if err := app.DB().NewQuery(bc.sql).Bind(params).Column(&ids); err != nil || len(ids) != 200 {
					b.Fatal(len(ids), err)
				}
			}
		})
	}
}
