package workflows

import (
	"fmt"
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/cron"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/condition"
)

// tickBatch bounds how many records one time trigger fires for in one tick; the rest fire on
// the next ticks.
const tickBatch = 1000

// catchUp is how far back date triggers look for dates they missed (a server that was down).
const catchUp = 7 * 24 * time.Hour

// Tick queues the runs that time triggers owe at now: schedules due this minute, dates
// reached (date triggers) and records gone quiet (dormant triggers). Each run has a dedupe
// key, so a tick repeated for the same minute, date or quiet spell queues nothing twice.
// The server ticks every minute; tests call Tick with the time they need.
func (e *Engine) Tick(now time.Time) error {
	e.mu.RLock()
	timed := slices.Clone(e.timed)
	e.mu.RUnlock()
	var errs []error
	queued := 0
	for _, w := range timed {
		var n int
		var err error
		switch w.Def.Trigger.Type {
		case TriggerSchedule:
			n, err = e.tickSchedule(w, now)
		case TriggerDate:
			n, err = e.tickDate(w, now)
		case TriggerDormant:
			n, err = e.tickDormant(w, now)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("workflow %s: %w", w.Def.Name, err))
		}
		queued += n
	}
	if queued > 0 {
		e.Wake()
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

func (e *Engine) tickSchedule(w *Workflow, now time.Time) (int, error) {
	minute := now.UTC().Truncate(time.Minute)
	if !w.schedule.IsDue(cron.NewMoment(minute)) {
		return 0, nil
	}
	key := fmt.Sprintf("%s:schedule:%s", w.ID, minute.Format(time.RFC3339))
	if w.Object == noObject {
		in := condition.Input{Now: now, Event: "schedule"}
		if w.cond != nil {
			if ok, err := w.cond.Eval(in); err != nil || !ok {
				return 0, err
			}
		}
		return e.queueTimed(w, nil, in, key, now)
	}
	recs, err := e.app.FindRecordsByFilter(w.Object.Name, "id != ''", "created", tickBatch, 0)
	if err != nil {
		return 0, err
	}
	return e.queueEach(w, recs, now, "schedule", func(r *core.Record) string { return key + ":" + r.Id })
}

func (e *Engine) tickDate(w *Workflow, now time.Time) (int, error) {
	since := now.Add(-catchUp)
	if w.EnabledAt.After(since) {
		since = w.EnabledAt
	}
	// The trigger fires at date+offset, so look for dates in (since-offset, now-offset].
	field := w.Def.Trigger.Field
	recs, err := e.app.FindRecordsByFilter(w.Object.Name,
		fmt.Sprintf("%[1]s != '' && %[1]s > {:lo} && %[1]s <= {:hi}", field), field, tickBatch, 0,
		dbx.Params{"lo": dbTime(since.Add(-w.offset)), "hi": dbTime(now.Add(-w.offset))})
	if err != nil {
		return 0, err
	}
	return e.queueEach(w, recs, now, "date", func(r *core.Record) string {
		return fmt.Sprintf("%s:date:%s:%s", w.ID, r.Id, r.GetDateTime(field).String())
	})
}

func (e *Engine) tickDormant(w *Workflow, now time.Time) (int, error) {
	cut := dbTime(now.Add(-time.Duration(w.Def.Trigger.Days) * 24 * time.Hour))
	lt := schemas.FieldLastTouched
	recs, err := e.app.FindRecordsByFilter(w.Object.Name,
		fmt.Sprintf("updated <= {:cut} && (%[1]s = '' || %[1]s <= {:cut})", lt), "updated", tickBatch, 0,
		dbx.Params{"cut": cut})
	if err != nil {
		return 0, err
	}
	return e.queueEach(w, recs, now, "dormant", func(r *core.Record) string {
		last := r.GetDateTime("updated")
		if t := r.GetDateTime(lt); t.After(last) {
			last = t
		}
		// One run per quiet spell: touching the record starts a new one.
		return fmt.Sprintf("%s:dormant:%s:%s", w.ID, r.Id, last.String())
	})
}

// queueEach queues a run for every record whose condition holds.
func (e *Engine) queueEach(w *Workflow, recs []*core.Record, now time.Time, event string, key func(*core.Record) string) (int, error) {
	n := 0
	for _, r := range recs {
		in := condition.Input{Record: r.FieldsData(), Now: now, Event: event}
		if w.cond != nil {
			ok, err := w.cond.Eval(in)
			if err != nil {
				e.app.Logger().Warn("relata: workflow condition failed", "workflow", w.Def.Name, "record", r.Id, "error", err)
				continue
			}
			if !ok {
				continue
			}
		}
		queued, err := e.queueTimed(w, r, in, key(r), now)
		if err != nil {
			return n, err
		}
		n += queued
	}
	return n, nil
}

func (e *Engine) queueTimed(w *Workflow, r *core.Record, in condition.Input, key string, now time.Time) (int, error) {
	id := ""
	if r != nil {
		id = r.Id
	}
	run, err := e.insertRun(e.app, newRun{w: w, recordID: id, event: in.Event, in: in, dedupe: key, nextAt: now})
	if err != nil || run == "" {
		return 0, err
	}
	return 1, nil
}

// Trigger queues a run of the named workflow for one record, as a manual or form trigger
// does; the condition must hold. Pass the caller's transaction as tx. It returns the run's id,
// or "" when the condition does not hold.
func (e *Engine) Trigger(tx core.App, name string, rec *core.Record, event string, actor *core.Record) (string, error) {
	w, ok := e.Workflow(name)
	if !ok {
		return "", fmt.Errorf("no enabled workflow named %q: %w", name, schemas.ErrNotFound)
	}
	return e.trigger(tx, w, rec, event, actor)
}

func (e *Engine) trigger(tx core.App, w *Workflow, rec *core.Record, event string, actor *core.Record) (string, error) {
	if rec != nil && rec.Collection().Name != w.Object.Name {
		return "", fmt.Errorf("workflow %q is about %s, not %s", w.Def.Name, w.Object.Name, rec.Collection().Name)
	}
	in := condition.Input{Now: e.cfg.Now(), Event: event, User: userOf(actor)}
	id := ""
	if rec != nil {
		in.Record, id = rec.FieldsData(), rec.Id
	}
	if w.cond != nil {
		ok, err := w.cond.Eval(in)
		if err != nil {
			return "", fmt.Errorf("condition: %w", err)
		}
		if !ok {
			return "", nil
		}
	}
	actorID := ""
	if actor != nil && actor.Collection().Name == schemas.UsersCollection {
		actorID = actor.Id
	}
	return e.insertRun(tx, newRun{w: w, recordID: id, event: event, in: in, actor: actorID})
}

// EnqueueForm queues the runs of the enabled form_submitted workflows of form slug for the
// record the submission created or updated. Pass the submission's transaction as tx.
func (e *Engine) EnqueueForm(tx core.App, slug string, rec *core.Record) (int, error) {
	e.mu.RLock()
	var ws []*Workflow
	for _, w := range e.byName {
		if w.Def.Trigger.Type == TriggerFormSubmitted && w.Def.Trigger.Form == slug && w.Object.Name == rec.Collection().Name {
			ws = append(ws, w)
		}
	}
	e.mu.RUnlock()
	n := 0
	for _, w := range ws {
		run, err := e.trigger(tx, w, rec, "form", nil)
		if err != nil {
			return n, err
		}
		if run != "" {
			n++
		}
	}
	return n, nil
}
