package scoring_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// forecastBenchApp is the default CRM model with a stored model, 40 reps in 5 teams and n
// open deals (EUR and USD, due over 8 months), inserted in bulk.
func forecastBenchApp(b *testing.B, n int) (*core.BaseApp, *scoring.Service, *core.Record) {
	b.Helper()
	app, reg := seededApp(b)
	svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	m, err := scoring.TrainAll(history(2000, 3), scoring.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := scoring.Save(app, m, 2000, &scoring.Report{}); err != nil {
		b.Fatal(err)
	}
	mgr, _ := schemastest.NewUser(b, app, "manager@example.com", schemas.RoleManager, "")
	var reps []string
	for i := range 40 {
		u, _ := schemastest.NewUser(b, app, fmt.Sprintf("rep%d@example.com", i), schemas.RoleSales, fmt.Sprintf("team%d", i%5))
		reps = append(reps, u.Id)
	}
	stages := []string{"lead", "qualified", "proposal", "negotiation"}
	start := time.Now().UTC()
	stamp := types.NowDateTime().String()
	cols := []string{"name", "owner", "stage", "amount", "amount_currency", "expected_close", "source", "company", "created", "updated"}
	rows := make([][]any, 0, n)
	for i := range n {
		rows = append(rows, []any{fmt.Sprintf("deal %d", i), reps[i%len(reps)], stages[i%4], 1000 + i%5000, []string{"EUR", "USD"}[i%2],
			start.AddDate(0, i%8-1, 0).Format(time.DateOnly) + " 00:00:00.000Z", "referral", "lkc000000000001", stamp, stamp})
	}
	if err := app.RunInTransaction(func(tx core.App) error { return schemas.InsertMany(tx, "deals", cols, rows) }); err != nil {
		b.Fatal(err)
	}
	return app, svc, mgr
}

// BenchmarkForecast is a manager's forecast (every deal) over 10,000 and 100,000 open deals:
// time per forecast, and peak-MB, the most heap in use during one forecast above what was in
// use before it (runtime.MemStats.HeapInuse sampled every millisecond).
func BenchmarkForecast(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("deals=%d", n), func(b *testing.B) {
			app, svc, mgr := forecastBenchApp(b, n)
			c := schemas.User(mgr)
			forecast := func() {
				fc, err := svc.Forecast(app, c, "deals", scoring.ForecastOptions{Months: 6})
				if err != nil || fc.Source != "model" || fc.Total.Count+fc.Outside+fc.Unconverted < n {
					b.Fatalf("forecast: %v %+v", err, fc)
				}
			}
			peak := peakHeap(forecast)
			b.ResetTimer()
			for b.Loop() {
				forecast()
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MB") // after the loop: ResetTimer drops metrics
		})
	}
}

// peakHeap runs f once and returns the most heap in use while it ran, above what was in use
// (after a collection) before.
func peakHeap(f func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak - base
}
