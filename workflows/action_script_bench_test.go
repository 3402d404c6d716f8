package workflows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows"
)

// BenchmarkRunScript measures workflow runs whose one action is a goja script that reads the
// record and sets a field, beside the same run with an update_record action that sets the
// same value: the difference is what the script (a sandboxed runtime, the compiled program
// from the cache, the conversions in and out) costs per run. Only the runs are timed, not
// the saves that queue them.
//
//	go test -run '^$' -bench RunScript ./workflows/
func BenchmarkRunScript(b *testing.B) {
	cases := []struct {
		name   string
		action string
	}{
		{"update_record", `{"type": "update_record", "values": {"description": "=\"large: \" + record.name"}}`},
		{"script", `{"type": "script", "source": "if (record.amount > 10000) { set('description', 'large: ' + record.name) }"}`},
		{"script_find", `{"type": "script", "source": "const mine = find('deals', 'owner = {:o}', {o: record.owner}, 5); set('description', 'owner has ' + mine.length + ' deals')"}`},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, workflows.Config{})
			e.save(b, fmt.Sprintf(`{"name": "bench-%s", "enabled": true, "object": "deals",
				"trigger": {"type": "record_created"}, "actions": [%s]}`, bc.name, bc.action))
			coll, err := e.app.FindCollectionByNameOrId("deals")
			if err != nil {
				b.Fatal(err)
			}
			var ran time.Duration
			total := 0
			for b.Loop() {
				// Queue a batch of runs untimed, then time draining them.
				b.StopTimer()
				const batch = 20
				for i := range batch {
					rec := core.NewRecord(coll)
					rec.Set("name", fmt.Sprintf("Deal %d", i))
					rec.Set("stage", "lead")
					rec.Set("amount", 20000)
					rec.Set("owner", e.alice.Id)
					if err := e.app.Save(rec); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				t0 := time.Now()
				n := e.drain(b)
				ran += time.Since(t0)
				if n != batch {
					b.Fatalf("ran %d runs for %d deals", n, batch)
				}
				total += n
			}
			b.ReportMetric(float64(total)/ran.Seconds(), "runs/s")
			b.ReportMetric(float64(ran.Nanoseconds())/float64(total), "ns/run")
			bad, err := e.app.FindRecordsByFilter(workflows.RunsCollection, "status != 'succeeded'", "", 1, 0)
			if err != nil || len(bad) > 0 {
				b.Fatalf("runs did not succeed: %v %v", err, bad)
			}
		})
	}
}
