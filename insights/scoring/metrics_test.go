package scoring_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/relata/relata/insights/scoring"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name                string
		won                 []bool
		p                   []float64
		auc, logloss, brier float64
	}{
		{
			// Pairs (won, lost): (0.8,0.3) (0.8,0.6) (0.4,0.3) (0.4,0.6) → 3 of 4 ordered right.
			name: "one pair wrong", won: []bool{true, false, true, false}, p: []float64{0.8, 0.3, 0.4, 0.6},
			auc:     0.75,
			logloss: -(math.Log(0.8) + math.Log(0.7) + math.Log(0.4) + math.Log(0.4)) / 4,
			brier:   (0.04 + 0.09 + 0.36 + 0.36) / 4,
		},
		{
			name: "perfect", won: []bool{false, true, true}, p: []float64{0.1, 0.9, 0.7},
			auc:     1,
			logloss: -(math.Log(0.9) + math.Log(0.9) + math.Log(0.7)) / 3,
			brier:   (0.01 + 0.01 + 0.09) / 3,
		},
		{
			// A tie between a won and a lost record counts half: (0.5,0.5) ½, (0.5,0.2) 1.
			name: "tie counts half", won: []bool{true, false, false}, p: []float64{0.5, 0.5, 0.2},
			auc:     0.75,
			logloss: -(math.Log(0.5) + math.Log(0.5) + math.Log(0.8)) / 3,
			brier:   (0.25 + 0.25 + 0.04) / 3,
		},
		{
			// Certain and wrong: clipped at 1e-15, not infinite.
			name: "clipped", won: []bool{true, false}, p: []float64{0, 0.5},
			auc:     0,
			logloss: -(math.Log(1e-15) + math.Log(0.5)) / 2,
			brier:   (1 + 0.25) / 2,
		},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			got := scoring.Score(s.won, s.p)
			for _, c := range []struct {
				what      string
				got, want float64
			}{{"AUC", got.AUC, s.auc}, {"log loss", got.LogLoss, s.logloss}, {"Brier", got.Brier, s.brier}} {
				if math.Abs(c.got-c.want) > 1e-12 {
					t.Errorf("%s = %v; want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestAUCOneClassIsUndefined(t *testing.T) {
	t.Parallel()
	m := scoring.Score([]bool{true, true}, []float64{0.2, 0.9})
	if !math.IsNaN(m.AUC) {
		t.Fatalf("AUC of a single class = %v; want NaN", m.AUC)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if v, ok := back["auc"]; !ok || v != nil {
		t.Fatalf("JSON %s: want \"auc\": null", b)
	}
}
