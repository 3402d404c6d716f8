package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// ChangesBulkCollection holds, per record a bulk job changed, the changed fields' values
// before the job and the values it set: what [Service.UndoBulk] restores.
const ChangesBulkCollection = "relata_bulk_changes"

// ActionUndo is the action of an undo job.
const ActionUndo = "undo"

// bulkChangeColumns are the columns of relata_bulk_changes a job writes.
var bulkChangeColumns = []string{"id", "job", "seq", "object", "record", "before", "after"}

// errChangedSince marks a record an undo leaves alone: someone changed a field the job set.
var errChangedSince = errors.New("changed since the job: left as it is")

// beforeOf is what the fields set will change had in rec as loaded.
func beforeOf(rec *core.Record, set map[string]any) map[string]any {
	orig := rec.Original()
	before := make(map[string]any, len(set))
	for k := range set {
		before[k] = orig.Get(k)
	}
	return before
}

// changeRow is the relata_bulk_changes row of rec, which the plan's job has just saved:
// before is what the changed fields had before (see beforeOf), the values after are read
// from the saved record.
func (p *plan) changeRow(rec *core.Record, before map[string]any) ([]any, error) {
	after := make(map[string]any, len(before))
	for k := range before {
		after[k] = rec.Get(k)
	}
	b, err := json.Marshal(before)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", rec.Collection().Name, rec.Id, err)
	}
	a, err := json.Marshal(after)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", rec.Collection().Name, rec.Id, err)
	}
	p.seq++
	return []any{core.GenerateDefaultRandomId(), p.job, p.seq, rec.Collection().Name, rec.Id, string(b), string(a)}, nil
}

// UndoBulk checks that job id can be undone by as (its starter, an admin, or a superuser:
// nil), records an undo job and runs it in the background: each record the job changed gets
// the values its changed fields had before, unless one of those fields has changed since
// (left alone and counted, with the reason, as unchanged). The undo runs under as's access
// rules like any bulk job (records they can no longer see or change are refused), without
// triggering workflows, and is in the audit trail as "bulk undo JOB". A bulk delete is undone
// by restoring its records from the trash.
func (s *Service) UndoBulk(id string, as *core.Record) (*Job, error) {
	release, err := s.acquire(as)
	if err != nil {
		return nil, err
	}
	p, rec, err := s.startUndo(id, as)
	if err != nil {
		release()
		return nil, err
	}
	return s.launch(rec, p, release), nil
}

// UndoBulkNow is [Service.UndoBulk] run to the end before it returns.
func (s *Service) UndoBulkNow(ctx context.Context, id string, as *core.Record) (*Job, error) {
	p, rec, err := s.startUndo(id, as)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, rec, p), nil
}

// startUndo plans the undo of job id, claims the job (so that two undos started at once do
// not both run) and records the undo job.
func (s *Service) startUndo(id string, as *core.Record) (*plan, *core.Record, error) {
	p, err := s.planUndo(id, as)
	if err != nil {
		return nil, nil, err
	}
	res, err := s.app.DB().NewQuery("UPDATE {{" + BulkJobsCollection + "}} SET [[undone_by]] = 'claimed' WHERE [[id]] = {:id}" +
		" AND ([[undone_by]] = '' OR [[undone_by]] IN (SELECT [[id]] FROM {{" + BulkJobsCollection + "}} WHERE [[status]] = {:failed}))").
		Bind(dbx.Params{"id": id, "failed": JobFailed}).Execute()
	if err != nil {
		return nil, nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil, badRequest("id", "the job is being undone, or was undone")
	}
	rec, err := s.newJob(p)
	if err != nil {
		_ = s.markUndone(id, "")
		return nil, nil, err
	}
	return p, rec, s.markUndone(id, rec.Id)
}

func (s *Service) markUndone(id, by string) error {
	_, err := s.app.DB().Update(BulkJobsCollection, dbx.Params{"undone_by": by}, dbx.HashExp{"id": id}).Execute()
	return err
}

// planUndo is the plan of undoing job id as as.
func (s *Service) planUndo(id string, as *core.Record) (*plan, error) {
	if _, err := s.Job(id, as); err != nil { // its starter, admins and superusers only
		return nil, err
	}
	rec, err := s.app.FindRecordById(BulkJobsCollection, id)
	if err != nil {
		return nil, ErrNoJob
	}
	j := jobOf(rec)
	switch {
	case j.Kind == "undo":
		return nil, badRequest("id", "an undo cannot be undone: run the job again")
	case j.Action == ActionDelete:
		return nil, badRequest("id", "a bulk delete is undone by restoring its records from the trash (GET /api/relata/trash, POST /api/relata/trash/{id}/restore; the web app's Trash page)")
	case j.Status == JobRunning:
		return nil, badRequest("id", "the job is still running: cancel it or wait for it to finish")
	case j.DryRun:
		return nil, badRequest("id", "a dry run changed nothing")
	}
	if by := rec.GetString("undone_by"); by != "" {
		if u, err := s.app.FindRecordById(BulkJobsCollection, by); err == nil && u.GetString("status") != JobFailed {
			return nil, badRequest("id", "the job was already undone by job %s", by)
		}
	}
	when := rec.GetDateTime("finished").Time()
	if when.IsZero() {
		when = rec.GetDateTime("created").Time()
	}
	if age := time.Since(when); age > UndoWindow {
		return nil, badRequest("id", "the job finished %d days ago; bulk jobs can be undone for %d days", int(age.Hours()/24), int(UndoWindow.Hours()/24))
	}
	var rows []struct {
		Object string `db:"object"`
		Record string `db:"record"`
		Before string `db:"before"`
		After  string `db:"after"`
	}
	if err := s.app.DB().Select("object", "record", "before", "after").From(ChangesBulkCollection).
		Where(dbx.HashExp{"job": id}).OrderBy("seq ASC").All(&rows); err != nil {
		return nil, fmt.Errorf("read the job's changes: %w", err)
	}
	type values struct{ before, after map[string]any }
	saved := make(map[string]values, len(rows))
	byColl := map[string][]string{}
	var order []string
	for _, r := range rows {
		var v values
		if err := json.Unmarshal([]byte(r.Before), &v.before); err != nil {
			return nil, fmt.Errorf("change of %s %s: %w", r.Object, r.Record, err)
		}
		if err := json.Unmarshal([]byte(r.After), &v.after); err != nil {
			return nil, fmt.Errorf("change of %s %s: %w", r.Object, r.Record, err)
		}
		saved[r.Object+"/"+r.Record] = v
		if byColl[r.Object] == nil {
			order = append(order, r.Object)
		}
		byColl[r.Object] = append(byColl[r.Object], r.Record)
	}
	p := &plan{kind: "undo", object: j.Object, action: ActionUndo, as: as, undoOf: id, perObject: j.Kind == "reassign",
		params: map[string]any{"of": id, "ofAction": j.Action}}
	c := callerOf(as)
	for _, name := range order {
		coll, err := s.app.FindCachedCollectionByNameOrId(name)
		if err != nil {
			p.missing += len(byColl[name])
			continue
		}
		ids, err := visibleIDs(s.app, c, coll, byColl[name])
		if err != nil {
			return nil, err
		}
		p.missing += len(byColl[name]) - len(ids)
		for _, rid := range ids {
			p.targets = append(p.targets, jobTarget{coll: coll, id: rid, group: coll.Name})
		}
	}
	p.change = func(rec *core.Record, _ *jobTarget) (map[string]any, bool, error) {
		v := saved[rec.Collection().Name+"/"+rec.Id]
		for k, want := range v.after {
			if !sameJSON(rec.Get(k), want) {
				return nil, false, errChangedSince
			}
		}
		set := make(map[string]any, len(v.before))
		for k, old := range v.before {
			if sameJSON(rec.Get(k), old) {
				continue
			}
			rec.Set(k, old)
			set[k] = old
		}
		return set, false, nil
	}
	return p, nil
}

// sameJSON reports whether v (a record's value) reads as want (a value decoded from JSON).
func sameJSON(v, want any) bool {
	raw, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var got any
	if err := json.Unmarshal(raw, &got); err != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}

// forgetOldChanges deletes the recorded changes of bulk jobs older than the undo window.
func (s *Service) forgetOldChanges() error {
	cut := types.NowDateTime().Add(-UndoWindow).String()
	_, err := s.app.DB().NewQuery("DELETE FROM {{" + ChangesBulkCollection + "}} WHERE [[job]] IN (SELECT [[id]] FROM {{" +
		BulkJobsCollection + "}} WHERE [[created]] < {:cut})").Bind(dbx.Params{"cut": cut}).Execute()
	return err
}
