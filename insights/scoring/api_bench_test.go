package scoring_test

import (
	"io"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// benchApp is the default CRM model with n open deals (each with a company and two
// activities) and a model trained on generated history.
func benchApp(b *testing.B, n int) (*core.BaseApp, *scoring.Service, []*core.Record) {
	b.Helper()
	app := schemastest.OpenApp(b, b.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := reg.SeedFrom(io.Discard, "testdata/leakage"); err != nil {
		b.Fatal(err)
	}
	svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	h := history(2000, 3)
	m, err := scoring.TrainAll(h, scoring.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := scoring.Save(app, m, 2000, &scoring.Report{}); err != nil {
		b.Fatal(err)
	}
	stages := []string{"lead", "qualified", "proposal", "negotiation"}
	now := time.Now()
	var deals []*core.Record
	for i := range n {
		d := schemastest.MustCreate(b, app, "deals", map[string]any{"name": "deal", "stage": stages[i%4], "source": "referral",
			"amount": 1000 + i, "company": "lkc000000000001", "expected_close": now.AddDate(0, i%6, 0)})
		for k := range 2 {
			schemastest.MustCreate(b, app, "activities", map[string]any{"type": "meeting", "subject": "m", "deal": d.Id,
				"done": true, "done_at": now.AddDate(0, 0, -k*10)})
		}
		deals = append(deals, d)
	}
	return app, svc, deals
}

// BenchmarkScorePage scores a page of 50 deals from the database as the bulk endpoint does
// (their histories in one query each, the model once, 3 factors each).
// BenchmarkReadPage is bare PocketBase reading the same 50 deals by id, for the ratio.
func BenchmarkScorePage(b *testing.B) {
	app, svc, deals := benchApp(b, 50)
	b.ResetTimer()
	for b.Loop() {
		out, err := svc.ScoreRecords(app, "deals", deals, 3)
		if err != nil || len(out) != 50 || out[0].Source != "model" {
			b.Fatalf("%v %d", err, len(out))
		}
	}
}

func BenchmarkReadPage(b *testing.B) {
	app, _, deals := benchApp(b, 50)
	ids := make([]string, len(deals))
	for i, d := range deals {
		ids[i] = d.Id
	}
	b.ResetTimer()
	for b.Loop() {
		if recs, err := app.FindRecordsByIds("deals", ids); err != nil || len(recs) != 50 {
			b.Fatal(err)
		}
	}
}

// BenchmarkForecast2k is the dashboard's forecast over 2,000 open deals (each scored by the
// model) as a manager sees them; BenchmarkReadAll2k reads the same deals with bare PocketBase.
func BenchmarkForecast2k(b *testing.B) {
	app, svc, _ := benchApp(b, 2000)
	b.ResetTimer()
	for b.Loop() {
		fc, err := svc.Forecast(app, schemas.System, "deals", scoring.ForecastOptions{})
		if err != nil || fc.Total.Count == 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadAll2k(b *testing.B) {
	app, _, _ := benchApp(b, 2000)
	b.ResetTimer()
	for b.Loop() {
		if recs, err := app.FindAllRecords("deals"); err != nil || len(recs) < 2000 {
			b.Fatal(err)
		}
	}
}
