package workflows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows"
)

// BenchmarkSaveContact measures what saving a record costs with workflows enabled: none at
// all, 1,000 on another object (dispatch is indexed by object and event, so this should cost
// the same as none), and 10 on the saved object itself (each queues a run in the save's
// transaction).
//
//	go test -run xxx -bench SaveContact -benchmem ./workflows/
func BenchmarkSaveContact(b *testing.B) {
	cases := []struct {
		name        string
		other, same int
	}{
		{"workflows=0", 0, 0},
		{"other_object=1000", 1000, 0},
		{"same_object=10", 0, 10},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			e := newBareEnv(b, workflows.Config{})
			for i := 0; i < bc.other; i++ {
				e.save(b, fmt.Sprintf(`{"name": "other-%d", "enabled": true, "object": "companies", "trigger": {"type": "record_created"},
					"condition": "record.name != \"\"", "actions": [{"type": "update_record", "values": {"country": "X"}}]}`, i))
			}
			for i := 0; i < bc.same; i++ {
				e.save(b, fmt.Sprintf(`{"name": "same-%d", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
					"condition": "record.full_name != \"\"", "actions": [{"type": "update_record", "values": {"job_title": "X"}}]}`, i))
			}
			coll, err := e.app.FindCollectionByNameOrId("contacts")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := core.NewRecord(coll)
				rec.Set("full_name", "Bench Contact")
				rec.Set("source", "website")
				if err := e.app.Save(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunCreateTask measures end-to-end workflow throughput: records created, their
// runs queued, then executed (each creates a task), reported as runs per second.
//
//	go test -run xxx -bench RunCreateTask ./workflows/
func BenchmarkRunCreateTask(b *testing.B) {
	e := newEnv(b, workflows.Config{})
	e.save(b, newContactTask)
	coll, _ := e.app.FindCollectionByNameOrId("contacts")
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		rec := core.NewRecord(coll)
		rec.Set("full_name", fmt.Sprintf("Lead %d", i))
		rec.Set("source", "website")
		rec.Set("owner", e.alice.Id)
		if err := e.app.Save(rec); err != nil {
			b.Fatal(err)
		}
	}
	n := e.drain(b)
	elapsed := time.Since(start)
	b.StopTimer()
	if n != b.N {
		b.Fatalf("ran %d runs for %d records", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "runs/s")
}
