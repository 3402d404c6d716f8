package scoring

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Month is one month of a [Backtest]: what each method forecast at the start of the month
// for the records open then whose expected close fell in the month, and what was won.
type Month struct {
	// Month is "2026-03".
	Month string `json:"month"`
	// Open counts the records forecast: open at the start, expected to close in the month.
	Open int `json:"open"`
	// Stage is the sum of amount × stage probability; Model of amount × the probability of
	// a model trained only on what had closed before the month (the stage probability
	// while fewer than [MinClosed] had).
	Stage float64 `json:"stage"`
	Model float64 `json:"model"`
	// Actual is the amount of every record won during the month.
	Actual float64 `json:"actual"`
}

// Backtest compares the stage-weighted and the model-weighted forecast with what was won,
// month by month.
type Backtest struct {
	Object string  `json:"object"`
	Months []Month `json:"months"`
	// StageMAE and ModelMAE are the mean absolute errors of the two forecasts per month.
	StageMAE float64 `json:"stageMAE"`
	ModelMAE float64 `json:"modelMAE"`
}

// RunBacktest forecasts each of the last n full months before now as it could have been
// forecast on its first day, from the records' history as of that day only, and compares
// with the amount won in the month. Amounts are in the base currency.
func RunBacktest(d *Data, n int, now time.Time, opts Options) (*Backtest, error) {
	bt := &Backtest{Object: d.Object}
	closed := d.Closed()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for k := n; k >= 1; k-- {
		start := first.AddDate(0, -k, 0)
		end := start.AddDate(0, 1, 0)
		m := Month{Month: start.Format("2006-01")}
		// The model of the day: trained on what had closed before the month.
		var before []*Record
		for _, r := range closed {
			if r.ClosedAt.Before(start) {
				before = append(before, r)
			}
		}
		var model *Model
		if len(before) >= MinClosed {
			snaps, won := examplesAlong(before, LifeStep)
			var err error
			if model, err = Train(d.Object, snaps, won, opts); err != nil {
				model = nil // one outcome only so far: the stage probability
			}
		}
		for _, r := range d.Records {
			if r.Won && !r.ClosedAt.Before(start) && r.ClosedAt.Before(end) {
				m.Actual += r.Amount
			}
			openAtStart := !r.Created.After(start) && (!r.Closed || !r.ClosedAt.Before(start))
			if !openAtStart || r.ExpectedClose.Before(start) || !r.ExpectedClose.Before(end) {
				continue
			}
			s := r.At(start)
			m.Open++
			ps := d.StagePredict(s, 0)
			m.Stage += r.Amount * ps
			if model != nil {
				m.Model += r.Amount * model.Predict(s)
			} else {
				m.Model += r.Amount * ps
			}
		}
		m.Stage, m.Model, m.Actual = math.Round(m.Stage), math.Round(m.Model), math.Round(m.Actual)
		bt.Months = append(bt.Months, m)
		bt.StageMAE += math.Abs(m.Stage - m.Actual)
		bt.ModelMAE += math.Abs(m.Model - m.Actual)
	}
	if n > 0 {
		bt.StageMAE = math.Round(bt.StageMAE / float64(n))
		bt.ModelMAE = math.Round(bt.ModelMAE / float64(n))
	}
	return bt, nil
}

// examplesAlong returns snapshots of each record every step days of its life, from its
// creation to its close, each labelled with its outcome: the moments open records are
// scored at, rather than only the close.
func examplesAlong(recs []*Record, step int) ([]Snapshot, []bool) {
	var (
		snaps []Snapshot
		won   []bool
	)
	for _, r := range recs {
		for t := r.Created.AddDate(0, 0, step); t.Before(r.ClosedAt); t = t.AddDate(0, 0, step) {
			snaps = append(snaps, r.At(t))
			won = append(won, r.Won)
		}
		snaps = append(snaps, r.At(r.ClosedAt))
		won = append(won, r.Won)
	}
	return snaps, won
}

// backtestTTL is how long a caller's backtest is reused: it forecasts past months, which
// change only when old records are edited.
const backtestTTL = 10 * time.Minute

type cachedBacktest struct {
	at time.Time
	bt *Backtest
}

// BacktestFor runs [RunBacktest] over the records of object that c may list (and trains its
// monthly models on those only), for the last months full months. Results are reused for
// [backtestTTL] per set of records.
func (s *Service) BacktestFor(app core.App, c schemas.Caller, object string, months int) (*Backtest, error) {
	o, _, _, err := s.pipelineOf(object, "")
	if err != nil {
		return nil, err
	}
	coll, err := app.FindCachedCollectionByNameOrId(o.Name)
	if err != nil {
		return nil, err
	}
	q, err := schemas.ListQuery(app, coll, c)
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := q.Select("[[" + coll.Name + ".id]]").Distinct(true).OrderBy(coll.Name + ".id").Column(&ids); err != nil {
		return nil, fmt.Errorf("read %s: %w", o.Name, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", o.Name, months)
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	key := hex.EncodeToString(h.Sum(nil))
	s.mu.RLock()
	hit, ok := s.backtests[key]
	s.mu.RUnlock()
	if ok && time.Since(hit.at) < backtestTTL {
		return hit.bt, nil
	}
	d, err := Load(app, s.reg, o.Name)
	if err != nil {
		return nil, err
	}
	visible := make(map[string]bool, len(ids))
	for _, id := range ids {
		visible[id] = true
	}
	kept := d.Records[:0]
	for _, r := range d.Records {
		if visible[r.ID] {
			kept = append(kept, r)
		}
	}
	d.Records = kept
	bt, err := RunBacktest(d, months, time.Now(), s.opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.backtests == nil || len(s.backtests) > 100 {
		s.backtests = map[string]cachedBacktest{}
	}
	s.backtests[key] = cachedBacktest{at: time.Now(), bt: bt}
	s.mu.Unlock()
	return bt, nil
}
