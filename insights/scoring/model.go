package scoring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/optimize"
)

// MinClosed is the number of closed records below which no model is trained: scores fall
// back to the stage probabilities.
const MinClosed = 50

// ErrTooFewClosed is returned by [Train] below [MinClosed] closed records.
var ErrTooFewClosed = errors.New("too few closed records to learn from")

// Feature is one input of the model.
type Feature struct {
	// Name identifies it: "stage=proposal", "amount", "meeting_21d", "source=referral".
	Name string `json:"name"`
	// Kind says how it is computed: stage, cat, amount, days_in_stage, age, count, recent,
	// total, since_touch.
	Kind string `json:"kind"`
	// Key is the stage, the categorical field, the relation or the activity type.
	Key string `json:"key,omitempty"`
	// Value is the categorical value or stage of a one-hot feature.
	Value string `json:"value,omitempty"`
}

// Model is a trained win-probability model: an L2-regularised logistic regression on
// standardised features.
type Model struct {
	Object   string    `json:"object"`
	Features []Feature `json:"features"`
	Mean     []float64 `json:"mean"`
	SD       []float64 `json:"sd"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	Lambda   float64   `json:"lambda"`
	// StageLabels maps stage names to their labels, for the explanations.
	StageLabels map[string]string `json:"stageLabels,omitempty"`
}

// Options tune training.
type Options struct {
	// Lambda is the L2 penalty on the standardised weights (default 0.01).
	Lambda float64
	// MinLevel is how many closed records (not snapshots: a record gives one every
	// [LifeStep] days of its life) must have had a categorical value or stage in training for
	// it to get its own feature (default 5). A value of fewer records would be a statistic of
	// those few: with one, its weight says whether that record was won — to a sales rep who
	// may not view it, by setting her own deal's company to one in that country.
	MinLevel int
}

func (o Options) withDefaults() Options {
	if o.Lambda <= 0 {
		o.Lambda = 0.01
	}
	if o.MinLevel <= 0 {
		o.MinLevel = 5
	}
	return o
}

// features chooses the model's features from the training snapshots. A stage or categorical
// value gets a feature when at least minLevel distinct records (by snapshot ID; a snapshot
// without one counts as a record of its own) had it.
func features(snaps []Snapshot, minLevel int) []Feature {
	stages := map[string]int{}
	cats := map[string]map[string]int{}
	counts := map[string]bool{}
	types := map[string]bool{}
	// The records that had each level, until there are minLevel of them (so memory is bounded
	// by the levels, not by the records).
	type level struct{ key, value string }
	records := map[level]map[string]bool{}
	note := func(l level, i int, id string) int {
		set := records[l]
		if set == nil {
			set = map[string]bool{}
			records[l] = set
		}
		if len(set) >= minLevel {
			return len(set)
		}
		if id == "" {
			id = fmt.Sprint("\x00", i)
		}
		set[id] = true
		return len(set)
	}
	for i := range snaps {
		s := &snaps[i]
		stages[s.Stage] = note(level{"\x00stage", s.Stage}, i, s.ID)
		for k, v := range s.Cats {
			if cats[k] == nil {
				cats[k] = map[string]int{}
			}
			cats[k][v] = note(level{k, v}, i, s.ID)
		}
		for k := range s.Counts {
			counts[k] = true
		}
		for k := range s.Total {
			types[k] = true
		}
	}
	var fs []Feature
	for _, st := range sortedKeys(stages) {
		if stages[st] >= minLevel && st != "" {
			fs = append(fs, Feature{Name: "stage=" + st, Kind: "stage", Value: st})
		}
	}
	fs = append(fs,
		Feature{Name: "days_in_stage", Kind: "days_in_stage"},
		Feature{Name: "age", Kind: "age"},
		Feature{Name: "amount", Kind: "amount"},
		Feature{Name: "days_since_touch", Kind: "since_touch"})
	for _, k := range sortedKeys(counts) {
		fs = append(fs, Feature{Name: "n_" + k, Kind: "count", Key: k})
	}
	for _, k := range sortedKeys(types) {
		fs = append(fs,
			Feature{Name: fmt.Sprintf("%s_%dd", k, Window), Kind: "recent", Key: k},
			Feature{Name: k + "_total", Kind: "total", Key: k})
	}
	for _, k := range sortedKeys(cats) {
		for _, v := range sortedKeys(cats[k]) {
			if cats[k][v] >= minLevel && v != "" {
				fs = append(fs, Feature{Name: k + "=" + v, Kind: "cat", Key: k, Value: v})
			}
		}
	}
	return fs
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// raw returns the unstandardised value of f for s.
func (f *Feature) raw(s *Snapshot) float64 {
	switch f.Kind {
	case "stage":
		return b2f(s.Stage == f.Value)
	case "cat":
		return b2f(s.Cats[f.Key] == f.Value)
	case "days_in_stage":
		return math.Log1p(s.DaysInStage)
	case "age":
		return math.Log1p(s.AgeDays)
	case "amount":
		return math.Log1p(s.Amount)
	case "since_touch":
		return math.Log1p(s.DaysSinceTouch)
	case "count":
		return s.Counts[f.Key]
	case "recent":
		return s.Recent[f.Key]
	case "total":
		return math.Log1p(s.Total[f.Key])
	}
	return 0
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Train fits a model on snaps (the records as of their scoring moment) and their outcomes.
// It returns [ErrTooFewClosed] when they do not hold both outcomes; [TrainAll] and
// [Evaluate] also require [MinClosed] closed records.
func Train(object string, snaps []Snapshot, won []bool, opts Options) (*Model, error) {
	opts = opts.withDefaults()
	nWon := 0
	for _, w := range won {
		if w {
			nWon++
		}
	}
	if nWon == 0 || nWon == len(won) {
		return nil, fmt.Errorf("%w: all %d closed records have the same outcome", ErrTooFewClosed, len(won))
	}
	m := &Model{Object: object, Features: features(snaps, opts.MinLevel), Lambda: opts.Lambda}
	n, d := len(snaps), len(m.Features)
	x := make([]float64, n*d) // row-major, standardised below
	for i := range snaps {
		for j := range m.Features {
			x[i*d+j] = m.Features[j].raw(&snaps[i])
		}
	}
	m.Mean, m.SD = make([]float64, d), make([]float64, d)
	for j := 0; j < d; j++ {
		var sum, sq float64
		for i := 0; i < n; i++ {
			sum += x[i*d+j]
		}
		mean := sum / float64(n)
		for i := 0; i < n; i++ {
			sq += (x[i*d+j] - mean) * (x[i*d+j] - mean)
		}
		sd := math.Sqrt(sq / float64(n))
		if sd < 1e-9 {
			sd = 1 // constant: its weight stays 0 under the penalty
		}
		m.Mean[j], m.SD[j] = mean, sd
		for i := 0; i < n; i++ {
			x[i*d+j] = (x[i*d+j] - mean) / sd
		}
	}
	y := make([]float64, n)
	for i, w := range won {
		y[i] = b2f(w)
	}
	// Parameters: d weights, then the bias (not penalised). The loss is the mean log loss
	// plus lambda/2 ‖w‖².
	lossGrad := func(grad, p []float64) float64 {
		if grad != nil {
			clear(grad)
		}
		var loss float64
		for i := 0; i < n; i++ {
			z := p[d]
			row := x[i*d : (i+1)*d]
			for j, v := range row {
				z += p[j] * v
			}
			// log(1+e^z) - y z, computed stably.
			if z > 0 {
				loss += z + math.Log1p(math.Exp(-z)) - y[i]*z
			} else {
				loss += math.Log1p(math.Exp(z)) - y[i]*z
			}
			if grad != nil {
				r := sigmoid(z) - y[i]
				for j, v := range row {
					grad[j] += r * v
				}
				grad[d] += r
			}
		}
		loss /= float64(n)
		for j := 0; j < d; j++ {
			loss += opts.Lambda / 2 * p[j] * p[j]
		}
		if grad != nil {
			for j := 0; j <= d; j++ {
				grad[j] /= float64(n)
			}
			for j := 0; j < d; j++ {
				grad[j] += opts.Lambda * p[j]
			}
		}
		return loss
	}
	prob := optimize.Problem{
		Func: func(p []float64) float64 { return lossGrad(nil, p) },
		Grad: func(grad, p []float64) { lossGrad(grad, p) },
	}
	res, err := optimize.Minimize(prob, make([]float64, d+1), &optimize.Settings{GradientThreshold: 1e-7, MajorIterations: 1000}, &optimize.LBFGS{})
	if res == nil {
		return nil, fmt.Errorf("fit the model: %w", err)
	}
	for _, v := range res.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("fit the model: no finite solution (%v)", err)
		}
	}
	m.Weights, m.Bias = res.X[:d], res.X[d]
	return m, nil
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// Predict returns the win probability of s.
func (m *Model) Predict(s Snapshot) float64 {
	z := m.Bias
	for j := range m.Features {
		z += m.Weights[j] * (m.Features[j].raw(&s) - m.Mean[j]) / m.SD[j]
	}
	return sigmoid(z)
}

// Factor is one reason behind a prediction.
type Factor struct {
	// Feature is the model feature's name.
	Feature string `json:"feature"`
	// Effect is its contribution to the log-odds, against an average record.
	Effect float64 `json:"effect"`
	// Text says it in words: "+ source: referral", "− no meeting in the last 21 days".
	Text string `json:"text"`
}

// Explain returns the win probability of s and its n strongest factors, strongest first, in
// English. One-hot features count only when they hold (a deal is explained by its source, not
// by every source it does not have).
func (m *Model) Explain(s Snapshot, n int) (float64, []Factor) {
	return m.ExplainIn(s, n, "en")
}

// ExplainIn is [Model.Explain] with the factors' words in lang ("en", "it"; English for any
// other).
func (m *Model) ExplainIn(s Snapshot, n int, lang string) (float64, []Factor) {
	w := wordsFor(lang)
	var fs []Factor
	for j := range m.Features {
		f := &m.Features[j]
		v := f.raw(&s)
		if (f.Kind == "stage" || f.Kind == "cat") && v == 0 {
			continue
		}
		eff := m.Weights[j] * (v - m.Mean[j]) / m.SD[j]
		if math.Abs(eff) < 0.05 {
			continue
		}
		fs = append(fs, Factor{Feature: f.Name, Effect: eff, Text: m.words(w, f, &s, eff)})
	}
	sort.SliceStable(fs, func(a, b int) bool { return math.Abs(fs[a].Effect) > math.Abs(fs[b].Effect) })
	if len(fs) > n {
		fs = fs[:n]
	}
	return m.Predict(s), fs
}

func (m *Model) words(w *factorWords, f *Feature, s *Snapshot, eff float64) string {
	sign := "+ "
	if eff < 0 {
		sign = "− "
	}
	var t string
	switch f.Kind {
	case "stage":
		label := m.StageLabels[f.Value]
		if label == "" {
			label = f.Value
		}
		t = fmt.Sprintf(w.inStage, label)
	case "cat":
		t = strings.ReplaceAll(f.Key, ".", " ") + ": " + f.Value
	case "days_in_stage":
		t = fmt.Sprintf(w.daysInStage, s.DaysInStage)
	case "age":
		t = fmt.Sprintf(w.age, s.AgeDays)
	case "amount":
		t = fmt.Sprintf(w.amount, s.Amount)
	case "since_touch":
		t = fmt.Sprintf(w.sinceTouch, s.DaysSinceTouch)
	case "count":
		t = w.count(s.Counts[f.Key], strings.TrimSuffix(f.Key, "s"))
	case "recent":
		if k := s.Recent[f.Key]; k == 0 {
			t = fmt.Sprintf(w.noneRecent, w.noun(f.Key), Window)
		} else {
			t = fmt.Sprintf(w.recent, w.count(k, f.Key), Window)
		}
	case "total":
		t = fmt.Sprintf(w.total, w.count(s.Total[f.Key], f.Key))
	default:
		t = f.Name
	}
	return sign + t
}
