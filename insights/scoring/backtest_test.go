package scoring_test

import (
	"math"
	"testing"
	"time"

	"github.com/relata/relata/insights/scoring"
)

func TestBacktest(t *testing.T) {
	t.Parallel()
	d := history(2000, 8)
	now := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC) // history ends on 2026-11-01
	bt, err := scoring.RunBacktest(d, 12, now, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(bt.Months) != 12 || bt.Months[0].Month != "2025-11" || bt.Months[11].Month != "2026-10" {
		t.Fatalf("months %+v", bt.Months)
	}
	var mae [2]float64
	for _, m := range bt.Months {
		start, _ := time.Parse("2006-01", m.Month)
		end := start.AddDate(0, 1, 0)
		var actual, stage float64
		open := 0
		for _, r := range d.Records {
			if r.Won && !r.ClosedAt.Before(start) && r.ClosedAt.Before(end) {
				actual += r.Amount
			}
			if !r.Created.After(start) && !r.ClosedAt.Before(start) && !r.ExpectedClose.Before(start) && r.ExpectedClose.Before(end) {
				open++
				stage += r.Amount * d.StageProb[r.At(start).Stage]
			}
		}
		if m.Open != open || m.Actual != math.Round(actual) || m.Stage != math.Round(stage) {
			t.Errorf("%s: open %d, stage %v, won %v; recounted %d, %v, %v", m.Month, m.Open, m.Stage, m.Actual, open, math.Round(stage), math.Round(actual))
		}
		if m.Open > 0 && m.Model == m.Stage {
			t.Errorf("%s: the model's forecast equals the stage's: no model was trained", m.Month)
		}
		mae[0] += math.Abs(m.Stage - m.Actual)
		mae[1] += math.Abs(m.Model - m.Actual)
	}
	if math.Round(mae[0]/12) != bt.StageMAE || math.Round(mae[1]/12) != bt.ModelMAE {
		t.Fatalf("MAE %v / %v; recomputed %v / %v", bt.StageMAE, bt.ModelMAE, math.Round(mae[0]/12), math.Round(mae[1]/12))
	}
	t.Logf("mean absolute error per month: stage %.0f, model %.0f", bt.StageMAE, bt.ModelMAE)

	// The forecast of a month knows nothing of what happened from its first day on: flipping
	// the outcome of every record closed since leaves it unchanged.
	last := bt.Months[11]
	start, _ := time.Parse("2006-01", last.Month)
	for _, r := range d.Records {
		if !r.ClosedAt.Before(start) {
			r.Won = !r.Won
		}
	}
	bt2, err := scoring.RunBacktest(d, 1, now, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := bt2.Months[0]; got.Model != last.Model || got.Stage != last.Stage {
		t.Fatalf("forecast of %s changed with outcomes after its first day: %+v, was %+v", last.Month, got, last)
	}
}
