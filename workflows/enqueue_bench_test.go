package workflows_test

import (
	"fmt"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows"
)

// BenchmarkSaveContactNoMatch measures what saving a record costs when workflows listen to
// its object and event but their conditions are false: the save is wrapped in a transaction,
// the event's input is built and each condition evaluated, and nothing is queued. Compare
// with BenchmarkSaveContact/workflows=0 (dispatch_bench_test.go).
//
//	go test -run '^$' -bench SaveContactNoMatch -benchmem ./workflows/
func BenchmarkSaveContactNoMatch(b *testing.B) {
	for _, n := range []int{0, 1, 10, 100} {
		b.Run(fmt.Sprintf("same_object=%d", n), func(b *testing.B) {
			e := newBareEnv(b, workflows.Config{})
			for i := range n {
				e.save(b, fmt.Sprintf(`{"name": "no-match-%d", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
					"condition": "record.source == \"partner\" && record.job_title == \"Never %d\"",
					"actions": [{"type": "update_record", "values": {"job_title": "X"}}]}`, i, i))
			}
			coll, err := e.app.FindCollectionByNameOrId("contacts")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := core.NewRecord(coll)
				rec.Set("full_name", "Bench Contact")
				rec.Set("source", "website")
				if err := e.app.Save(rec); err != nil {
					b.Fatal(err)
				}
			}
			if runs, _ := e.app.CountRecords(workflows.RunsCollection); runs != 0 {
				b.Fatalf("%d runs queued; want none", runs)
			}
		})
	}
}
