package workflows

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/condition"
	"github.com/relata/relata/workflows/outbox"
)

// segmentID returns the id of the segment named by its name or id.
func segmentID(app core.App, nameOrID string) (string, error) {
	var id string
	err := app.DB().Select("id").From(segments.Collection).
		Where(dbx.Or(dbx.HashExp{"id": nameOrID}, dbx.HashExp{"name": nameOrID})).
		OrderBy("id").Limit(1).Row(&id)
	if err != nil || id == "" {
		return "", fmt.Errorf("no segment %q (name or id)", nameOrID)
	}
	return id, nil
}

// checkSegments adds an error, located in the expression, for each segment prog names in
// inSegment that does not exist.
func (e *Engine) checkSegments(prog *condition.Program, ptr string, add func(ptr, format string, args ...any)) {
	if prog == nil {
		return
	}
	for _, ref := range prog.Segments() {
		if _, err := segmentID(e.app, ref.Name); err != nil {
			add(ptr, "%s", exprMessage(prog.ErrorAt(ref, err.Error())))
		}
	}
}

// facts answers inSegment, replied and unsubscribed for one record (condition.Facts). Each
// question is one indexed lookup; segment names are resolved once per evaluation.
type facts struct {
	app    core.App
	object string
	id     string
	email  string // the record's email field, "" when it has none
	dne    bool   // do_not_email
	since  time.Time
	segs   map[string]string
}

func newFacts(app core.App, object string, values map[string]any, since time.Time) *facts {
	f := &facts{app: app, object: object, since: since}
	f.id, _ = values["id"].(string)
	f.email, _ = values["email"].(string)
	f.dne, _ = values["do_not_email"].(bool)
	return f
}

func (f *facts) InSegment(name string) (bool, error) {
	id, ok := f.segs[name]
	if !ok {
		var err error
		if id, err = segmentID(f.app, name); err != nil {
			return false, err
		}
		if f.segs == nil {
			f.segs = map[string]string{}
		}
		f.segs[name] = id
	}
	var n int
	err := f.app.DB().Select("count(*)").From(segments.MembersCollection).
		Where(dbx.HashExp{"segment": id, "record_id": f.id}).Row(&n)
	return n > 0, err
}

func (f *facts) Replied() (bool, error) {
	var n int
	q := f.app.DB().Select("count(*)").From(outbox.Collection).
		Where(dbx.HashExp{"object": f.object, "record_id": f.id}).
		AndWhere(dbx.NewExp("[[replied_at]] != ''"))
	if !f.since.IsZero() {
		q = q.AndWhere(dbx.NewExp("[[created]] >= {:since}", dbx.Params{"since": dbTime(f.since)}))
	}
	err := q.Row(&n)
	return n > 0, err
}

func (f *facts) Unsubscribed() (bool, error) {
	if f.dne {
		return true, nil
	}
	addr := strings.ToLower(strings.TrimSpace(f.email))
	if addr == "" {
		return false, nil
	}
	// By address, or by the keyed hash an erased person is kept as (schemas/privacy): the
	// outbox refuses mail to both, so the sequence stops for both.
	hit, err := outbox.Suppressed(f.app, []string{addr})
	return hit[addr], err
}

// errStopped ends a run whose stopIf held.
type errStopped struct{ reason string }

func (e errStopped) Error() string { return e.reason }

// checkStop evaluates the workflow's stopIf on the record's current values before step st.
func (x *executor) checkStop(st *step) error {
	w := x.w
	if w == nil || w.stopIf == nil || x.rc.RecordID == "" || w.Object == noObject {
		return nil
	}
	rec, err := x.e.app.FindRecordById(w.Object.Name, x.rc.RecordID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return errStopped{reason: fmt.Sprintf("stopped before step %s: the record was deleted", st.path)}
		}
		return err
	}
	in := x.rc.Input
	in.Record = snapshot(rec)
	in.Now = x.e.cfg.Now()
	in.Facts = newFacts(x.e.app, w.Object.Name, in.Record, x.run.GetDateTime("created").Time())
	ok, err := w.stopIf.Eval(in)
	if err != nil {
		return Permanent(fmt.Errorf("stopIf before step %s: %w", st.path, err))
	}
	if ok {
		return errStopped{reason: fmt.Sprintf("stopped before step %s: stopIf %q holds", st.path, w.Def.StopIf)}
	}
	return nil
}

// SegmentChange is one contact entering or leaving a segment's stored membership.
type SegmentChange = segments.Change

// SegmentChanged queues the runs of the segment_entered and segment_left workflows of a
// segment for changes made by its evaluation. Call it in the transaction that stores the
// membership (segments.Config.OnChange does), so the runs commit with the change or not at
// all. Each run's dedupe key names the contact and the time it entered, so a contact fires
// once per entry and once per exit.
func (e *Engine) SegmentChanged(tx core.App, segmentID string, changes []SegmentChange) error {
	e.mu.RLock()
	var ws []*Workflow
	for _, w := range e.byName {
		if w.segment == segmentID && (w.Def.Trigger.Type == TriggerSegmentEntered || w.Def.Trigger.Type == TriggerSegmentLeft) {
			ws = append(ws, w)
		}
	}
	e.mu.RUnlock()
	if len(ws) == 0 || len(changes) == 0 {
		return nil
	}
	ids := make([]string, 0, len(changes))
	for _, c := range changes {
		ids = append(ids, c.RecordID)
	}
	recs, err := tx.FindRecordsByIds(segments.Object, ids)
	if err != nil {
		return err
	}
	byID := make(map[string]*core.Record, len(recs))
	for _, r := range recs {
		byID[r.Id] = r
	}
	now := e.cfg.Now()
	var runs []newRun
	for _, w := range ws {
		left := w.Def.Trigger.Type == TriggerSegmentLeft
		for _, c := range changes {
			rec := byID[c.RecordID]
			if c.Left != left || rec == nil {
				continue
			}
			in := condition.Input{Record: snapshot(rec), Now: now, Event: w.Def.Trigger.Type}
			if w.cond != nil {
				in.Facts = newFacts(tx, w.Object.Name, in.Record, time.Time{})
				ok, err := w.cond.Eval(in)
				if err != nil {
					e.app.Logger().Warn("relata: workflow condition failed", "workflow", w.Def.Name, "record", rec.Id, "error", err)
					continue
				}
				if !ok {
					continue
				}
				in.Facts = nil
			}
			runs = append(runs, newRun{w: w, recordID: rec.Id, event: w.Def.Trigger.Type, in: in,
				dedupe: fmt.Sprintf("%s:%s:%s:%s", w.ID, w.Def.Trigger.Type, rec.Id, c.EnteredAt.UTC().Format(time.RFC3339Nano))})
		}
	}
	// The workers find the runs at their next poll, after the transaction commits.
	_, err = e.countRuns(tx, runs)
	return err
}
