package scoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// TrainShare is the share of the closed records, oldest first, that [Evaluate] trains on;
// the rest, the newest, is the test set.
const TrainShare = 0.7

// Prediction is one test record's outcome and predicted win probability.
type Prediction struct {
	ID  string  `json:"id"`
	Won bool    `json:"won"`
	P   float64 `json:"p"`
}

// Report is the result of [Evaluate].
type Report struct {
	Object string `json:"object"`
	Closed int    `json:"closed"`
	Train  int    `json:"train"`
	Test   int    `json:"test"`
	// Fallback says why there is no model (fewer than [MinClosed] closed records): Model
	// then holds the stage probability's figures.
	Fallback string   `json:"fallback,omitempty"`
	Model    Metrics  `json:"model"`
	Baseline *Metrics `json:"baseline,omitempty"`
	Stage    Metrics  `json:"stage"`
	// Predictions are the model's predictions for every test record, so anyone can
	// recompute the figures.
	Predictions []Prediction `json:"predictions"`
}

// Closed returns the closed records of d ordered by their close (then id).
func (d *Data) Closed() []*Record {
	var out []*Record
	for _, r := range d.Records {
		if r.Closed {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b *Record) int {
		if c := a.ClosedAt.Compare(b.ClosedAt); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out
}

// examples returns the snapshots of recs at their scoring moment, with their outcomes.
func examples(recs []*Record, now time.Time) ([]Snapshot, []bool) {
	snaps := make([]Snapshot, len(recs))
	won := make([]bool, len(recs))
	for i, r := range recs {
		snaps[i] = r.At(r.ScoredAt(now))
		won[i] = r.Won
	}
	return snaps, won
}

// StagePredict returns the pipeline's probability of s's stage, or prior when s has no
// known stage.
func (d *Data) StagePredict(s Snapshot, prior float64) float64 {
	if p, ok := d.StageProb[s.Stage]; ok {
		return p
	}
	return prior
}

// Evaluate orders the closed records by their close, trains the model and the frequency
// baseline on the oldest 70 %, and scores them and the stage probability on the newest 30 %.
// Below [MinClosed] closed records it reports the stage probability alone, with Fallback
// saying so.
func Evaluate(d *Data, opts Options) (*Report, error) {
	closed := d.Closed()
	rep := &Report{Object: d.Object, Closed: len(closed)}
	split := int(math.Floor(TrainShare * float64(len(closed))))
	if len(closed) < MinClosed {
		split = 0
		rep.Fallback = fmt.Sprintf("only %d closed %s (a model needs at least %d): falling back to the stage probabilities", len(closed), d.Object, MinClosed)
	}
	now := time.Now()
	trainS, trainW := examples(closed[:split], now)
	testS, testW := examples(closed[split:], now)
	rep.Train, rep.Test = len(trainS), len(testS)
	prior := 0.5
	if n := len(trainW); n > 0 {
		prior = 0
		for _, w := range trainW {
			prior += b2f(w)
		}
		prior /= float64(n)
	}
	stageP := make([]float64, len(testS))
	for i, s := range testS {
		stageP[i] = d.StagePredict(s, prior)
	}
	rep.Stage = Score(testW, stageP)
	modelP := stageP
	if rep.Fallback == "" {
		// The model learns from snapshots along each deal's life (the moments open deals are
		// scored at); the baseline, like Odoo's, from the values at the close.
		lifeS, lifeW := examplesAlong(closed[:split], LifeStep)
		m, err := Train(d.Object, lifeS, lifeW, opts)
		if errors.Is(err, ErrTooFewClosed) {
			rep.Fallback = fmt.Sprintf("the oldest %d closed %s all have the same outcome: falling back to the stage probabilities", len(trainS), d.Object)
			rep.Model = Score(testW, stageP)
			rep.Predictions = predictions(testS, testW, stageP)
			return rep, nil
		}
		if err != nil {
			return nil, err
		}
		b := TrainBaseline(trainS, trainW)
		modelP = make([]float64, len(testS))
		baseP := make([]float64, len(testS))
		for i, s := range testS {
			modelP[i] = m.Predict(s)
			baseP[i] = b.Predict(s)
		}
		bm := Score(testW, baseP)
		rep.Baseline = &bm
	}
	rep.Model = Score(testW, modelP)
	rep.Predictions = predictions(testS, testW, modelP)
	return rep, nil
}

func predictions(snaps []Snapshot, won []bool, p []float64) []Prediction {
	out := make([]Prediction, len(snaps))
	for i, s := range snaps {
		out[i] = Prediction{ID: s.ID, Won: won[i], P: p[i]}
	}
	return out
}

// LifeStep is the number of days between the training snapshots of a closed record: one
// every LifeStep days from its creation, and one at its close.
const LifeStep = 14

// TrainAll trains a model on every closed record of d, on snapshots along each one's life.
func TrainAll(d *Data, opts Options) (*Model, error) {
	closed := d.Closed()
	if len(closed) < MinClosed {
		return nil, fmt.Errorf("%w: %d closed %s, at least %d needed", ErrTooFewClosed, len(closed), d.Object, MinClosed)
	}
	snaps, won := examplesAlong(closed, LifeStep)
	m, err := Train(d.Object, snaps, won, opts)
	if err != nil {
		return nil, err
	}
	m.StageLabels = d.StageLabels
	return m, nil
}

// MarshalJSON writes undefined figures (the AUC of a test set with one outcome) as null.
func (m Metrics) MarshalJSON() ([]byte, error) {
	num := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	return json.Marshal(map[string]any{"auc": num(m.AUC), "logloss": num(m.LogLoss), "brier": num(m.Brier)})
}
