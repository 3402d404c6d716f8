package scoring_test

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// BenchmarkRunRules is the daily rule-based scoring (what serve runs at 02:15 UTC) over n
// contacts, each with an email and every third with a meeting: every iteration is a day
// later, so decay changes every score and every record is written. It reports the peak heap,
// which must not grow with the object:
//
//	go test ./insights/scoring -run XXX -bench RunRules -benchtime 2x
func BenchmarkRunRules(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			app := schemastest.OpenApp(b, b.TempDir())
			reg := schemas.MustRegister(app, nil, schemas.Config{Dir: "testdata/rules/objects"})
			if err := reg.Sync(); err != nil {
				b.Fatal(err)
			}
			svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
			sets, err := scoring.LoadRules(os.DirFS("testdata/rules/valid"), reg)
			if err != nil {
				b.Fatal(err)
			}
			svc.SetRules(sets)
			seedContacts(b, app, n)
			day := time.Now()
			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapAlloc > peak.Load() {
						peak.Store(ms.HeapAlloc)
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			})
			runtime.GC()
			b.ResetTimer()
			for b.Loop() {
				day = day.Add(24 * time.Hour)
				run, err := scoring.RunRules(app, reg, sets[0], scoring.RunOptions{Now: day, Apply: true, Top: 5})
				if err != nil {
					b.Fatal(err)
				}
				if run.Records != n || run.Changed < n/2 {
					b.Fatalf("%d of %d records scored, %d changed in a day", run.Records, n, run.Changed)
				}
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		})
	}
}

// seedContacts writes n contacts (ids c00000000000000 up) and their activities straight to
// the tables (a setup, not what is measured or tested).
func seedContacts(tb testing.TB, app core.App, n int) {
	tb.Helper()
	now := time.Now().UTC()
	err := app.RunInTransaction(func(tx core.App) error {
		for i := range n {
			id := fmt.Sprintf("c%014d", i)
			at := now.Add(-time.Duration(i%60) * 24 * time.Hour).Format("2006-01-02 15:04:05.000Z")
			title := []string{"CEO", "Engineer", "Head of IT", "Intern"}[i%4]
			if _, err := tx.DB().Insert("contacts", dbx.Params{"id": id, "full_name": "Contact " + id, "job_title": title,
				"source": "website", "created": at, "updated": at}).Execute(); err != nil {
				return err
			}
			if _, err := tx.DB().Insert("activities", dbx.Params{"id": fmt.Sprintf("e%014d", i), "type": "email", "subject": "Hi",
				"done": true, "done_at": at, "contact": id, "created": at, "updated": at}).Execute(); err != nil {
				return err
			}
			if i%3 == 0 {
				if _, err := tx.DB().Insert("activities", dbx.Params{"id": fmt.Sprintf("m%014d", i), "type": "meeting", "subject": "Demo",
					"done": true, "done_at": at, "contact": id, "created": at, "updated": at}).Execute(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}
