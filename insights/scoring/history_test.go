package scoring_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/relata/relata/insights/scoring"
)

// history generates n closed deals with a known signal, like examples/sales/gen does: the
// source and the owner (categorical, which the frequency baseline sees), and a meeting in the
// last 21 days and the amount (which only the model sees); the company fields are noise. Won deals get an onboarding
// meeting after their close, which must never count.
func history(n int, seed uint64) *scoring.Data {
	r := rand.New(rand.NewPCG(seed, 7))
	sources := []string{"website", "referral", "partner", "cold_outreach"}
	srcEff := []float64{0, 1.2, 0.9, -0.8}
	owners := []string{"Alice", "Bob", "Carol"}
	ownEff := []float64{0.4, 0, -0.4}
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	d := &scoring.Data{Object: "deals",
		StageProb:   map[string]float64{"lead": 0.1, "qualified": 0.25, "proposal": 0.5, "negotiation": 0.75, "won": 1, "lost": 0},
		StageLabels: map[string]string{"proposal": "Proposal", "negotiation": "Negotiation"}}
	for i := 0; i < n; i++ {
		si, oi := r.IntN(len(sources)), r.IntN(len(owners))
		amount := math.Exp(8.3 + 0.9*r.NormFloat64())
		meeting := r.Float64() < 0.45
		logit := -0.3 + srcEff[si] + ownEff[oi] - 0.7*(math.Log(amount)-8.3) + 1.5*b2f(meeting)
		won := r.Float64() < 1/(1+math.Exp(-logit))
		closed := end.Add(-time.Duration(i*730*24/n) * time.Hour)
		created := closed.AddDate(0, 0, -(30 + r.IntN(60)))
		last := "proposal"
		if r.Float64() < 0.5+0.2*b2f(won) {
			last = "negotiation"
		}
		outcome := "lost"
		if won {
			outcome = "won"
		}
		rec := &scoring.Record{
			ID: fmt.Sprintf("d%05d", i), Created: created, Stage: outcome, Closed: true, Won: won, ClosedAt: closed, ExpectedClose: closed,
			Amount: amount, Cats: map[string]string{"source": sources[si], "owner": owners[oi],
				// Noise, as wide as the example history's company fields.
				"company.industry": fmt.Sprint("industry", r.IntN(8)), "company.size": fmt.Sprint("size", r.IntN(5)),
				"company.country": fmt.Sprint("country", r.IntN(8))},
			Counts: map[string]float64{"contacts": float64(1 + r.IntN(3))},
			Stages: []scoring.StageChange{{To: "lead", At: created}, {To: last, At: created.AddDate(0, 0, 10)}, {To: outcome, At: closed}},
		}
		for k := 0; k < 1+r.IntN(4); k++ {
			rec.Activities = append(rec.Activities, scoring.Activity{Type: "email", At: created.Add(time.Duration(k+1) * 24 * time.Hour)})
		}
		if meeting {
			rec.Activities = append(rec.Activities, scoring.Activity{Type: "meeting", At: closed.AddDate(0, 0, -3)})
		}
		if won {
			rec.Activities = append(rec.Activities, scoring.Activity{Type: "meeting", At: closed.AddDate(0, 0, 5)})
		}
		d.Records = append(d.Records, rec)
	}
	return d
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
