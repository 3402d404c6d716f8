package scoring_test

import (
	"testing"

	"github.com/relata/relata/insights/scoring"
)

// BenchmarkTrain10k fits the model on 10,000 closed deals (target: under 5 s).
func BenchmarkTrain10k(b *testing.B) {
	d := history(10_000, 42)
	b.ResetTimer()
	for b.Loop() {
		if _, err := scoring.TrainAll(d, scoring.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluate10k is `relata score evaluate` on 10,000 closed deals without the
// database: model, baseline and stage on the 70/30 split.
func BenchmarkEvaluate10k(b *testing.B) {
	d := history(10_000, 42)
	b.ResetTimer()
	for b.Loop() {
		if _, err := scoring.Evaluate(d, scoring.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScoreOne scores one record from its history: the snapshot as of now, the
// probability and its top five factors (target: under 1 ms).
func BenchmarkScoreOne(b *testing.B) {
	d := history(10_000, 42)
	m, err := scoring.TrainAll(d, scoring.Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := d.Records[len(d.Records)/2]
	b.ResetTimer()
	for b.Loop() {
		p, f := m.Explain(r.At(r.ClosedAt), 5)
		if p <= 0 || p >= 1 || len(f) == 0 {
			b.Fatalf("p=%v factors=%v", p, f)
		}
	}
}
