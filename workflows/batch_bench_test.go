package workflows_test

import (
	"context"
	"fmt"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows"
)

// BenchmarkExecuteRuns times executing queued runs of a create_task + send_email workflow
// (the relata-bench end-to-end workflow, without SMTP): one by one (RunNext, about four
// write transactions per run) against grouped (RunBatch, 32 runs per transaction). The
// contacts are created with the timer stopped.
//
//	go test -run '^$' -bench ExecuteRuns -benchtime 2000x -count 3 ./workflows/
func BenchmarkExecuteRuns(b *testing.B) {
	for _, mode := range []string{"one-by-one", "batch"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, workflows.Config{})
			e.save(b, `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
			  "actions": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d", "assignee": "owner"},
			              {"type": "send_email", "to": "email", "subject": "Welcome", "text": "Hello"}]}`)
			coll, _ := e.app.FindCollectionByNameOrId("contacts")
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				rec := core.NewRecord(coll)
				rec.Set("full_name", fmt.Sprintf("Lead %d", i))
				rec.Set("email", fmt.Sprintf("lead%d@example.com", i))
				rec.Set("owner", e.alice.Id)
				if err := e.app.Save(rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			start := time.Now()
			n := 0
			// The label lets a CPU profile keep only the runs' work (-tagfocus phase=runs),
			// also where deep hook chains truncate the stacks.
			pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("phase", "runs")))
			for {
				var k int
				var err error
				if mode == "batch" {
					k, err = e.eng.RunBatch(workflows.BatchSize)
				} else {
					var ran bool
					if ran, err = e.eng.RunNext(); ran {
						k = 1
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				if k == 0 {
					break
				}
				n += k
			}
			elapsed := time.Since(start)
			pprof.SetGoroutineLabels(context.Background())
			b.StopTimer()
			if f := e.eng.GroupFallbacks(); f != 0 {
				b.Fatalf("%d group(s) fell back to one by one", f)
			}
			if n != b.N {
				b.Fatalf("ran %d runs for %d records", n, b.N)
			}
			if got, _ := e.app.CountRecords(workflows.RunsCollection, dbx.HashExp{"status": "succeeded"}); got != int64(b.N) {
				b.Fatalf("%d runs succeeded; want %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "runs/s")
		})
	}
}
