package scoring

import (
	"math"
	"slices"
)

// Baseline is an Odoo-style frequency model: naive Bayes over the categorical values of a
// record (its stage as of scoring, and every value of [Snapshot.Cats]), with Laplace
// smoothing. It is the open anchor the model must beat.
type Baseline struct {
	Prior  float64                          `json:"prior"`  // share of won records
	Counts map[string]map[string][2]float64 `json:"counts"` // field → value → [lost, won]
	Totals [2]float64                       `json:"totals"`
	Levels map[string]int                   `json:"levels"` // distinct values per field
}

// TrainBaseline counts the categorical values of snaps among the won and the lost.
func TrainBaseline(snaps []Snapshot, won []bool) *Baseline {
	b := &Baseline{Counts: map[string]map[string][2]float64{}, Levels: map[string]int{}}
	for i, s := range snaps {
		y := 0
		if won[i] {
			y = 1
		}
		b.Totals[y]++
		for k, v := range baselineValues(s) {
			m := b.Counts[k]
			if m == nil {
				m = map[string][2]float64{}
				b.Counts[k] = m
			}
			c := m[v]
			c[y]++
			m[v] = c
		}
	}
	for k, m := range b.Counts {
		b.Levels[k] = len(m)
	}
	if n := b.Totals[0] + b.Totals[1]; n > 0 {
		b.Prior = b.Totals[1] / n
	}
	return b
}

func baselineValues(s Snapshot) map[string]string {
	out := make(map[string]string, len(s.Cats)+1)
	for k, v := range s.Cats {
		out[k] = v
	}
	out["stage"] = s.Stage
	return out
}

// Predict returns the naive-Bayes probability that s is won.
func (b *Baseline) Predict(s Snapshot) float64 {
	lw := math.Log(b.Totals[1] + 1)
	ll := math.Log(b.Totals[0] + 1)
	vals := baselineValues(s)
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a fixed order: sums of floats are reproducible
	for _, k := range keys {
		m, ok := b.Counts[k]
		if !ok {
			continue
		}
		c := m[vals[k]]
		lv := float64(b.Levels[k] + 1)
		lw += math.Log((c[1] + 1) / (b.Totals[1] + lv))
		ll += math.Log((c[0] + 1) / (b.Totals[0] + lv))
	}
	return 1 / (1 + math.Exp(ll-lw))
}
