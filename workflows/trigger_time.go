package workflows

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/cron"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/condition"
)

// tickPage is how many candidate records a time trigger reads at a time. Ticks walk every
// candidate page by page (a cursor on the trigger's column and the id), so no record is
// missed whatever their number.
const tickPage = 1000

// catchUp is how far back date triggers look for dates they missed (a server that was down).
const catchUp = 7 * 24 * time.Hour

// lateGrace is how long after its due time a record may have been changed and still count as
// changed before its date trigger was due: one tick interval.
const lateGrace = time.Minute

// Tick queues the runs that time triggers owe at now: schedules due this minute, dates
// reached (date triggers) and records gone quiet (dormant triggers). Each run has a dedupe
// key, so a tick repeated for the same minute, date or quiet spell queues nothing twice, and
// records whose run is already queued are skipped in SQL. The server ticks every minute;
// tests call Tick with the time they need.
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
	return e.walk(w, now, timedQuery{
		event:  "schedule",
		params: dbx.Params{"tkey": key + ":"},
		seen:   "{:tkey} || {{" + w.Object.Name + "}}.[[id]]",
		key:    func(r *core.Record) string { return key + ":" + r.Id },
	})
}

func (e *Engine) tickDate(w *Workflow, now time.Time) (int, error) {
	since := now.Add(-catchUp)
	if w.EnabledAt.After(since) {
		since = w.EnabledAt
	}
	// The trigger is due at date+offset: look for dates in (since-offset, now-offset]. A record
	// changed after its due time (created inside the offset window, or its date moved into
	// the past of the window) fires at once only with fireLate, and only while the date itself
	// is ahead (negative offsets) or within the catch-up window (others).
	field := w.Def.Trigger.Field
	// changedAfterDue is true for a record changed more than a tick after its due time.
	changedAfterDue := fmt.Sprintf("[[updated]] > strftime('%%Y-%%m-%%d %%H:%%M:%%fZ', [[%s]], '%+.3f seconds', '+%d seconds')",
		field, w.offset.Seconds(), int(lateGrace/time.Second))
	params := dbx.Params{
		"tlo":  dbTime(since.Add(-w.offset)),
		"thi":  dbTime(now.Add(-w.offset)),
		"tkey": w.ID + ":date:",
	}
	where := fmt.Sprintf("([[%s]] > {:tlo} AND NOT %s)", field, changedAfterDue)
	lo := since
	if w.Def.Trigger.FireLate {
		params["tlatelo"] = dbTime(now.Add(-catchUp).Add(-w.offset))
		params["tenabled"] = dbTime(w.EnabledAt)
		params["tnow"] = dbTime(now)
		late := fmt.Sprintf("[[%s]] > {:tlatelo} AND %s AND [[updated]] >= {:tenabled}", field, changedAfterDue)
		if w.offset < 0 {
			late += fmt.Sprintf(" AND [[%s]] >= {:tnow}", field)
		}
		where = "(" + where + " OR (" + late + "))"
		lo = now.Add(-catchUp)
	}
	params["trangelo"] = dbTime(lo.Add(-w.offset))
	return e.walk(w, now, timedQuery{
		event:  "date",
		where:  fmt.Sprintf("[[%[1]s]] != '' AND [[%[1]s]] > {:trangelo} AND [[%[1]s]] <= {:thi} AND %[2]s", field, where),
		params: params,
		order:  field,
		seen:   fmt.Sprintf("{:tkey} || {{%[1]s}}.[[id]] || ':' || {{%[1]s}}.[[%[2]s]]", w.Object.Name, field),
		key: func(r *core.Record) string {
			return fmt.Sprintf("%s:date:%s:%s", w.ID, r.Id, r.GetDateTime(field).String())
		},
	})
}

func (e *Engine) tickDormant(w *Workflow, now time.Time) (int, error) {
	lt := schemas.FieldLastTouched
	return e.walk(w, now, timedQuery{
		event:  "dormant",
		where:  fmt.Sprintf("[[updated]] <= {:tcut} AND ([[%[1]s]] = '' OR [[%[1]s]] <= {:tcut})", lt),
		params: dbx.Params{"tcut": dbTime(now.Add(-time.Duration(w.Def.Trigger.Days) * 24 * time.Hour)), "tkey": w.ID + ":dormant:"},
		order:  "updated",
		// One run per quiet spell: touching the record starts a new one.
		seen: fmt.Sprintf("{:tkey} || {{%[1]s}}.[[id]] || ':' || max({{%[1]s}}.[[updated]], {{%[1]s}}.[[%[2]s]])", w.Object.Name, lt),
		key: func(r *core.Record) string {
			last := r.GetDateTime("updated")
			if t := r.GetDateTime(lt); t.After(last) {
				last = t
			}
			return fmt.Sprintf("%s:dormant:%s:%s", w.ID, r.Id, last.String())
		},
	})
}

// timedQuery selects the candidate records of a time trigger.
type timedQuery struct {
	event  string
	where  string // SQL over the object's table; "" for every record
	params dbx.Params
	order  string // the indexed column the cursor walks, with the id; "" for the id alone
	seen   string // SQL of a record's dedupe key: records already queued are skipped
	key    func(*core.Record) string
}

// walk reads every candidate record of q, page by page, and queues a run for each whose
// condition holds. The condition's parts SQL can decide are part of the query.
func (e *Engine) walk(w *Workflow, now time.Time, q timedQuery) (int, error) {
	coll, err := e.app.FindCachedCollectionByNameOrId(w.Object.Name)
	if err != nil {
		return 0, err
	}
	params := dbx.Params{}
	maps.Copy(params, q.params)
	var conds []string
	if q.where != "" {
		conds = append(conds, q.where)
	}
	if s := conditionSQL(w.Def.Condition, coll, params); s != "" {
		conds = append(conds, s)
	}
	if q.seen != "" {
		conds = append(conds, "NOT EXISTS (SELECT 1 FROM {{"+RunsCollection+"}} WHERE [[dedupe_key]] = "+q.seen+" AND [[dedupe_key]] != '')")
	}
	order := []string{"[[id]]"}
	if q.order != "" {
		order = []string{"[[" + q.order + "]]", "[[id]]"}
	}
	n := 0
	var lastID, lastCol string
	for {
		sq := e.app.RecordQuery(coll)
		for _, c := range conds {
			sq = sq.AndWhere(dbx.NewExp(c, params))
		}
		switch {
		case lastID == "":
		case q.order == "":
			sq = sq.AndWhere(dbx.NewExp("[[id]] > {:tcurid}", dbx.Params{"tcurid": lastID}))
		default:
			sq = sq.AndWhere(dbx.NewExp("([["+q.order+"]], [[id]]) > ({:tcurcol}, {:tcurid})", dbx.Params{"tcurcol": lastCol, "tcurid": lastID}))
		}
		var recs []*core.Record
		if err := sq.OrderBy(order...).Limit(tickPage).All(&recs); err != nil {
			return n, err
		}
		queued, err := e.queueEach(w, recs, now, q.event, q.key)
		n += queued
		if err != nil {
			return n, err
		}
		if len(recs) < tickPage {
			return n, nil
		}
		last := recs[len(recs)-1]
		col := ""
		if q.order != "" {
			col = last.GetString(q.order)
		}
		if lastID != "" && (col < lastCol || col == lastCol && last.Id <= lastID) {
			// A value stored in another format than PocketBase writes would read back
			// differently: stop rather than walk the same page again.
			return n, fmt.Errorf("%s.%s of record %s does not sort after the previous page: is it stored as PocketBase stores dates?", w.Object.Name, q.order, last.Id)
		}
		lastID, lastCol = last.Id, col
	}
}

// queueEach queues a run for every record whose condition holds, with one INSERT per page.
func (e *Engine) queueEach(w *Workflow, recs []*core.Record, now time.Time, event string, key func(*core.Record) string) (int, error) {
	var runs []newRun
	for _, r := range recs {
		in := condition.Input{Record: snapshot(r), Now: now, Event: event}
		if w.cond != nil {
			in := in
			in.Facts = newFacts(e.app, w.Object.Name, in.Record, time.Time{})
			ok, err := w.cond.Eval(in)
			if err != nil {
				e.app.Logger().Warn("relata: workflow condition failed", "workflow", w.Def.Name, "record", r.Id, "error", err)
				continue
			}
			if !ok {
				continue
			}
		}
		runs = append(runs, newRun{w: w, recordID: r.Id, event: event, in: in, dedupe: key(r), nextAt: now})
	}
	n := 0
	for chunk := range slices.Chunk(runs, 500) {
		m, err := e.countRuns(e.app, chunk)
		n += m
		if err != nil {
			return n, err
		}
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
		in.Record, id = snapshot(rec), rec.Id
	}
	if w.cond != nil {
		in := in
		if rec != nil {
			in.Facts = newFacts(tx, w.Object.Name, in.Record, time.Time{})
		}
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
