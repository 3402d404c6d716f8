package scoring

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// RunOptions say how [RunRules] scores the records of an object.
type RunOptions struct {
	// Now is the moment scored at: behaviour points decay up to it (default: time.Now()).
	Now time.Time
	// Apply writes each changed score and grade to its record, through a save: record hooks,
	// the audit trail and workflows see the change.
	Apply bool
	// Top is how many of the highest scores the run keeps in [RuleRun.Top].
	Top int
	// Each, when set, is given every record's score, in id order; an error stops the run.
	Each func(RuleScore) error
}

// RuleRun is what a run of a rule set found and did.
type RuleRun struct {
	// Records is how many records were scored; Grades counts them by grade.
	Records int
	Grades  map[string]int
	// Top are the highest scores, highest first (at most [RunOptions.Top]).
	Top []RuleScore
	// Changed is how many records got a new score or grade written; Failed how many could
	// not be saved (their errors are returned).
	Changed, Failed int
}

// rulesPage is how many records a run reads at once, with their activities: a run's memory
// is bounded by it, whatever the size of the object.
const rulesPage = 1000

// rulesWriteEvery is how many changed scores one transaction writes, so that the writer
// every other write waits for is held a short while at a time.
const rulesWriteEvery = 100

// scoredKey marks the context of the saves of [RunRules]: they carry a score computed for
// them, which the save hook ([Service.Rescore]) would compute again.
type scoredKey struct{}

// RunRules scores every record of rs's object, a page at a time in id order, and with
// opts.Apply writes the score and grade where they changed. A record's write reads it again
// with its activities in the write's transaction, so a change made meanwhile is neither
// lost nor scored on stale values. A record that cannot be saved does not stop the others:
// the run goes on and returns their errors with what it did.
func RunRules(app core.App, reg *schemas.Registry, rs *RuleSet, opts RunOptions) (*RuleRun, error) {
	o, ok := reg.Object(rs.Object)
	if !ok {
		return nil, fmt.Errorf("%s: no object named %q", rs.file, rs.Object)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	run := &RuleRun{Grades: map[string]int{}}
	var failed []error
	for after := ""; ; {
		recs, err := recordsAfter(app, o.Name, after, rulesPage)
		if err != nil {
			return run, err
		}
		if len(recs) == 0 {
			break
		}
		after = recs[len(recs)-1].Id
		scores, err := rs.scoreAll(app, reg, o, recs, opts.Now)
		if err != nil {
			return run, err
		}
		var changed []string
		for i, sc := range scores {
			run.Records++
			run.Grades[sc.Grade]++
			if opts.Top > 0 {
				// The highest scores, cut back to Top now and then: at most about twice Top held.
				if run.Top = append(run.Top, sc); len(run.Top) >= 2*opts.Top+64 {
					sortScores(run.Top)
					run.Top = run.Top[:opts.Top]
				}
			}
			if opts.Each != nil {
				if err := opts.Each(sc); err != nil {
					return run, err
				}
			}
			if rs.differs(recs[i], sc) {
				changed = append(changed, sc.ID)
			}
		}
		if opts.Apply {
			for ids := range slices.Chunk(changed, rulesWriteEvery) {
				n, errs := rs.writeAll(app, reg, o, ids, opts.Now)
				run.Changed += n
				run.Failed += len(errs)
				failed = append(failed, errs...)
			}
		}
		if len(recs) < rulesPage {
			break
		}
	}
	sortScores(run.Top)
	run.Top = run.Top[:min(len(run.Top), max(opts.Top, 0))]
	if len(failed) > 0 {
		return run, fmt.Errorf("%s: %d scores of %s not saved: %w", rs.file, len(failed), o.Name, errors.Join(failed[:min(len(failed), 5)]...))
	}
	return run, nil
}

// recordsAfter reads up to n records of object whose id sorts after after, in id order.
func recordsAfter(app core.App, object, after string, n int) ([]*core.Record, error) {
	var recs []*core.Record
	err := app.RecordQuery(object).
		AndWhere(dbx.NewExp("[[id]] > {:after}", dbx.Params{"after": after})).
		OrderBy("id").Limit(int64(n)).All(&recs)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", object, err)
	}
	return recs, nil
}

// scoreAll scores recs from their values and their activities (read for them, one query per
// relation of an activity object to rs's object).
func (rs *RuleSet) scoreAll(app core.App, reg *schemas.Registry, o *schemas.Object, recs []*core.Record, now time.Time) ([]RuleScore, error) {
	ids := make([]string, len(recs))
	byID := make(map[string]*Record, len(recs))
	for i, r := range recs {
		ids[i] = r.Id
		byID[r.Id] = &Record{ID: r.Id}
	}
	if err := loadActivities(app, reg, o.Name, ids, byID, true, nil); err != nil {
		return nil, err
	}
	if err := loadEngagement(app, o.Name, ids, byID, nil); err != nil {
		return nil, err
	}
	out := make([]RuleScore, len(recs))
	for i, r := range recs {
		sc, err := rs.Score(r.Id, Values(o, r), byID[r.Id].Activities, now)
		if err != nil {
			return nil, err
		}
		out[i] = sc
	}
	return out, nil
}

// differs reports whether sc is not what rec holds.
func (rs *RuleSet) differs(rec *core.Record, sc RuleScore) bool {
	return rs.Field != "" && rec.GetFloat(rs.Field) != sc.Score ||
		rs.GradeField != "" && rec.GetString(rs.GradeField) != sc.Grade
}

// writeAll writes the scores of the records ids in one transaction, each scored again on
// what the transaction reads. If the transaction fails, each record is written in its own,
// so one record that cannot be saved does not keep the others' scores; their errors are
// returned.
func (rs *RuleSet) writeAll(app core.App, reg *schemas.Registry, o *schemas.Object, ids []string, now time.Time) (int, []error) {
	n, err := rs.write(app, reg, o, ids, now)
	if err == nil {
		return n, nil
	}
	if len(ids) == 1 {
		return 0, []error{err}
	}
	n = 0
	var errs []error
	for _, id := range ids {
		k, err := rs.write(app, reg, o, []string{id}, now)
		n += k
		if err != nil {
			errs = append(errs, err)
		}
	}
	return n, errs
}

func (rs *RuleSet) write(app core.App, reg *schemas.Registry, o *schemas.Object, ids []string, now time.Time) (int, error) {
	n := 0
	err := app.RunInTransaction(func(tx core.App) error {
		n = 0
		recs, err := tx.FindRecordsByIds(o.Name, ids)
		if err != nil {
			return err
		}
		scores, err := rs.scoreAll(tx, reg, o, recs, now)
		if err != nil {
			return err
		}
		ctx := context.WithValue(context.Background(), scoredKey{}, true)
		for i, rec := range recs {
			sc := scores[i]
			if !rs.differs(rec, sc) {
				continue // changed meanwhile, by a save that scored it
			}
			if rs.Field != "" {
				rec.Set(rs.Field, sc.Score)
			}
			if rs.GradeField != "" {
				rec.Set(rs.GradeField, sc.Grade)
			}
			if err := tx.SaveWithContext(ctx, rec); err != nil {
				return fmt.Errorf("save the score of %s %s: %w", o.Name, rec.Id, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// sortScores sorts scores highest first, ties in the order they came.
func sortScores(scores []RuleScore) {
	slices.SortStableFunc(scores, func(a, b RuleScore) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
}
