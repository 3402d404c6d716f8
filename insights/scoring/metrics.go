package scoring

import (
	"math"
	"slices"
)

// Metrics are how well probabilities p predicted outcomes won.
type Metrics struct {
	// AUC is the area under the ROC curve: the chance that a random won record scores above
	// a random lost one (ties count half); 0.5 is a coin.
	AUC float64 `json:"auc"`
	// LogLoss is the mean negative log-likelihood (natural log), probabilities clipped to
	// [1e-15, 1-1e-15]; lower is better.
	LogLoss float64 `json:"logloss"`
	// Brier is the mean squared error of the probabilities; lower is better.
	Brier float64 `json:"brier"`
}

// Score computes the metrics of p against won. It panics if the lengths differ.
func Score(won []bool, p []float64) Metrics {
	if len(won) != len(p) {
		panic("scoring: Score of slices of different lengths")
	}
	return Metrics{AUC: AUC(won, p), LogLoss: LogLoss(won, p), Brier: Brier(won, p)}
}

// AUC returns the area under the ROC curve of p for won (Mann–Whitney U, ties counted
// half), or NaN when won holds only one class.
func AUC(won []bool, p []float64) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	// Mid-ranks over ties, then the rank sum of the won.
	var sumPos float64
	var nPos, nNeg int
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1 … j, averaged
		for k := i; k < j; k++ {
			if won[idx[k]] {
				sumPos += rank
				nPos++
			} else {
				nNeg++
			}
		}
		i = j
	}
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	return (sumPos - float64(nPos*(nPos+1))/2) / float64(nPos*nNeg)
}

// LogLoss returns the mean negative log-likelihood of won under p.
func LogLoss(won []bool, p []float64) float64 {
	if len(p) == 0 {
		return math.NaN()
	}
	var sum float64
	for i, q := range p {
		q = math.Min(math.Max(q, 1e-15), 1-1e-15)
		if won[i] {
			sum -= math.Log(q)
		} else {
			sum -= math.Log(1 - q)
		}
	}
	return sum / float64(len(p))
}

// Brier returns the mean squared difference between p and the outcomes (1 won, 0 lost).
func Brier(won []bool, p []float64) float64 {
	if len(p) == 0 {
		return math.NaN()
	}
	var sum float64
	for i, q := range p {
		y := 0.0
		if won[i] {
			y = 1
		}
		sum += (q - y) * (q - y)
	}
	return sum / float64(len(p))
}
