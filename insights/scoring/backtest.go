package scoring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
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

// MaxBacktestMonths is the most months a backtest covers. [Service.BacktestFor] computes them
// all once per set of records and answers any shorter backtest from them: a month's forecast
// does not depend on how many months are asked for.
const MaxBacktestMonths = 24

// ErrBacktestBusy is the answer to a user whose previous backtest is still being computed.
var ErrBacktestBusy = errors.New("a backtest of yours is still being computed: wait for it to end")

type cachedBacktest struct {
	at time.Time
	bt *Backtest
}

// backtestFlight is a backtest being computed; callers asking for the same records wait for it.
type backtestFlight struct {
	done chan struct{}
	bt   *Backtest
	err  error
}

// Last is the backtest of the last n of bt's months, with their mean absolute errors.
func (bt *Backtest) Last(n int) *Backtest {
	out := &Backtest{Object: bt.Object, Months: []Month{}}
	if n <= 0 {
		return out
	}
	out.Months = append(out.Months, bt.Months[max(0, len(bt.Months)-n):]...)
	for _, m := range out.Months {
		out.StageMAE += math.Abs(m.Stage - m.Actual)
		out.ModelMAE += math.Abs(m.Model - m.Actual)
	}
	out.StageMAE = math.Round(out.StageMAE / float64(n))
	out.ModelMAE = math.Round(out.ModelMAE / float64(n))
	return out
}

// BacktestFor runs [RunBacktest] over the records of object that c may list (and trains its
// monthly models on those only), for the last months full months (at most
// [MaxBacktestMonths]). It reads only those records, computes [MaxBacktestMonths] months
// once per set of records and reuses them for [backtestTTL]; callers asking for the same
// records meanwhile wait for that computation.
//
// A backtest trains a model per month: it is the dearest read a CRM user can ask for. So a
// user computes one at a time ([ErrBacktestBusy] otherwise; superusers are not bounded), and
// the server about one per two CPUs at once, the others waiting their turn (until ctx ends).
func (s *Service) BacktestFor(app core.App, c schemas.Caller, object string, months int) (*Backtest, error) {
	return s.BacktestForContext(context.Background(), app, c, object, months)
}

// BacktestForContext is [Service.BacktestFor] that stops waiting when ctx ends (the request's
// client went away).
func (s *Service) BacktestForContext(ctx context.Context, app core.App, c schemas.Caller, object string, months int) (*Backtest, error) {
	months = min(max(months, 1), MaxBacktestMonths)
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
	fmt.Fprintf(h, "%s\x00", o.Name)
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	key := hex.EncodeToString(h.Sum(nil))
	user := ""
	if a := c.Auth(); a != nil && !c.IsSuperuser() {
		user = a.Id
	}

	for {
		bt, err := s.backtestOnce(ctx, app, o.Name, ids, key, user)
		if errors.Is(err, errRetryBacktest) && ctx.Err() == nil {
			continue // the caller who computed it went away first: compute it for this one
		}
		if err != nil {
			return nil, err
		}
		return bt.Last(months), nil
	}
}

// errRetryBacktest tells the waiters of a backtest that its computation stopped before it
// began, because the caller it was computed for went away.
var errRetryBacktest = errors.New("the backtest was abandoned")

// backtestOnce returns the cached backtest of key, waits for the one being computed, or
// computes it for user.
func (s *Service) backtestOnce(ctx context.Context, app core.App, object string, ids []string, key, user string) (*Backtest, error) {
	s.mu.Lock()
	if hit, ok := s.backtests[key]; ok && time.Since(hit.at) < backtestTTL {
		s.mu.Unlock()
		return hit.bt, nil
	}
	f, running := s.flights[key]
	if !running {
		if user != "" && s.computing[user] {
			s.mu.Unlock()
			return nil, ErrBacktestBusy
		}
		s.initBacktests()
		f = &backtestFlight{done: make(chan struct{})}
		s.flights[key] = f
		if user != "" {
			s.computing[user] = true
		}
	}
	slots := s.slots
	s.mu.Unlock()

	if running {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return f.bt, f.err
	}
	f.bt, f.err = s.computeBacktest(ctx, app, object, ids, slots)
	s.mu.Lock()
	delete(s.flights, key)
	if user != "" {
		delete(s.computing, user)
	}
	if f.err == nil {
		if s.backtests == nil || len(s.backtests) > 100 {
			s.backtests = map[string]cachedBacktest{}
		}
		s.backtests[key] = cachedBacktest{at: time.Now(), bt: f.bt}
	}
	s.mu.Unlock()
	if errors.Is(f.err, ctx.Err()) && ctx.Err() != nil {
		err := f.err
		f.err = errRetryBacktest
		close(f.done)
		return nil, err
	}
	close(f.done)
	return f.bt, f.err
}

// initBacktests makes the maps and the slots of the backtests being computed, once; s.mu is
// held.
func (s *Service) initBacktests() {
	if s.flights == nil {
		s.flights, s.computing = map[string]*backtestFlight{}, map[string]bool{}
		s.slots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))
	}
}

// computeBacktest reads the records ids of object (500 at a time) and backtests
// [MaxBacktestMonths] months over them, once one of slots is free.
func (s *Service) computeBacktest(ctx context.Context, app core.App, object string, ids []string, slots chan struct{}) (*Backtest, error) {
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.backtested.Add(1)
	var d *Data
	for chunk := range slices.Chunk(ids, 500) {
		recs, err := app.FindRecordsByIds(object, chunk)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", object, err)
		}
		part, err := LoadRecords(app, s.reg, object, recs)
		if err != nil {
			return nil, err
		}
		if d == nil {
			d = part
		} else {
			d.Records = append(d.Records, part.Records...)
		}
	}
	if d == nil {
		var err error
		if d, err = LoadRecords(app, s.reg, object, nil); err != nil {
			return nil, err
		}
	}
	return RunBacktest(d, MaxBacktestMonths, time.Now(), s.opts)
}
