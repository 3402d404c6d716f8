package workflows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/workflows"
)

// BenchmarkTick measures one minute tick of a time trigger over a big deals table (built with
// raw SQL inserts in one transaction): 90% of the deals are lost (the condition, decided in
// SQL, leaves them out), 10% are open. "first" is the tick that queues the runs (reported as
// first-ms), the timed ticks are the steady state of every later minute: every due record
// walked, none queued twice. bare-count is bare PocketBase counting the same candidate rows
// (CountRecords with the trigger's filter), the floor a tick is compared with.
//
//	go test -run xxx -bench 'Tick/.*/records=100000$' -benchtime 20x ./workflows/
//	go test -run xxx -bench 'Tick/.*/records=1000000$' -benchtime 5x -timeout 60m ./workflows/
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		for _, kind := range []string{"dormant", "date", "bare-count"} {
			b.Run(fmt.Sprintf("%s/records=%d", kind, n), func(b *testing.B) {
				e := newBareEnv(b, workflows.Config{})
				now := e.clock.Now()
				insertRows(b, e.app, "deals", n, func(i int) map[string]any {
					stage := "qualified"
					if i%10 != 0 {
						stage = "lost"
					}
					// Quiet for 40 to 140 days; closing evenly within a year either side of now.
					updated := now.Add(-time.Duration(40*24*3600+i%(100*24*3600)) * time.Second)
					year := 365 * 24 * time.Hour
					closeAt := now.Add(-year + time.Duration(i)*(2*year/time.Duration(n)))
					return map[string]any{"name": "deal", "stage": stage, "updated": updated.Format(dbLayout),
						"created": updated.Format(dbLayout), "expected_close": closeAt.Format(dbLayout)}
				})
				trigger := `{"type": "dormant", "days": 30}`
				if kind == "date" {
					trigger = `{"type": "date", "field": "expected_close", "offset": "-1d"}`
				}
				// Enabled 8 days ago: date ticks look back over the whole 7-day catch-up window.
				e.clock.Add(-8 * 24 * time.Hour)
				e.save(b, `{"name": "w", "enabled": true, "object": "deals", "trigger": `+trigger+`,
				  "condition": "record.stage != \"lost\"", "actions": [{"type": "update_record", "values": {"description": "x"}}]}`)
				e.clock.Add(8 * 24 * time.Hour)
				at := now.Add(time.Minute)
				if kind == "bare-count" {
					cut := now.Add(-30 * 24 * time.Hour).UTC().Format(dbLayout)
					b.ResetTimer()
					for range b.N {
						if _, err := e.app.CountRecords("deals", dbx.NewExp("updated <= {:cut} AND (last_touched = '' OR last_touched <= {:cut})", dbx.Params{"cut": cut})); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				start := time.Now()
				if err := e.eng.Tick(at); err != nil {
					b.Fatal(err)
				}
				first := time.Since(start)
				queued := countRuns(b, e, "w")
				b.ResetTimer()
				for range b.N {
					if err := e.eng.Tick(at); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(first.Milliseconds()), "first-ms")
				b.ReportMetric(float64(queued), "runs")
				if got := countRuns(b, e, "w"); got != queued {
					b.Fatalf("steady ticks queued %d more runs", got-queued)
				}
			})
		}
	}
}
