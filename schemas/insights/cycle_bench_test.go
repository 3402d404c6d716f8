package insights_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relata/relata/schemas/insights"
	"github.com/relata/relata/schemas/schemastest"
)

// BenchmarkCycle: a manager's cycle report over 100,001 won deals, each with two stage
// changes. Its memory must not grow with the deals (the won ones are read beside the
// history, a row at a time):
//
//	go test ./schemas/insights -run XXX -bench Cycle -benchtime 3x -benchmem
func BenchmarkCycle(b *testing.B) {
	e := newEnv(b, false)
	mgr, _ := schemastest.NewUser(b, e.app, "mgr@example.com", "manager", "")
	const n = 100_001
	// Written with SQL: saving 100,001 deals through their hooks takes minutes.
	_, err := e.app.DB().NewQuery(`WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < {:n})
		INSERT INTO deals (id, name, owner, stage, pipeline, created, updated)
		SELECT printf('d%014d', x), 'deal ' || x, {:owner}, 'won', 'sales', '2026-01-01 09:00:00.000Z', '2026-01-01 09:00:00.000Z' FROM i`).
		Bind(map[string]any{"n": n, "owner": mgr.Id}).Execute()
	if err != nil {
		b.Fatal(err)
	}
	_, err = e.app.DB().NewQuery(`INSERT INTO stage_changes (id, object, record, field, [[from]], [[to]], at)
		SELECT 'a' || substr(id, 2), 'deals', id, 'stage', 'lead', 'qualified', '2026-01-03 09:00:00.000Z' FROM deals
		UNION ALL
		SELECT 'b' || substr(id, 2), 'deals', id, 'stage', 'qualified', 'won', '2026-01-08 09:00:00.000Z' FROM deals`).Execute()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // samples the heap while the reports run
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	for b.Loop() {
		got, err := e.svc.Cycle(insights.Caller(mgr), insights.Query{Object: "deals"})
		if err != nil {
			b.Fatal(err)
		}
		if got.DaysToClose.Count != n || got.DaysToClose.Days != 7 {
			b.Fatalf("days to close = %+v; want %d deals, 7 days", got.DaysToClose, n)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapAlloc))/(1<<20), "peak-heap-MB")
}
