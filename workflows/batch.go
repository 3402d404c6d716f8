package workflows

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/outbox"
)

// BatchSize is how many fresh runs a worker claims at once for a group commit.
const BatchSize = 32

// groupable reports whether every step of a workflow only writes the database in its own
// transaction (no wait, no for_each, no call leaving the process, no script), so that a fresh
// run can execute whole inside a shared transaction: it either commits with its outcome or
// leaves no trace.
func groupable(steps []*step) bool {
	for _, st := range steps {
		switch a := st.action.(type) {
		case *branch:
			if !groupable(a.then) || !groupable(a.els) {
				return false
			}
		case *wait, *forEach, External:
			return false
		default:
			if st.kind == "script" {
				return false
			}
		}
	}
	return true
}

// RunBatch claims up to n fresh runs (queued, never attempted) of groupable workflows in one
// statement and executes them together in one transaction, each with its step records and
// its outcome (a group commit: one write transaction for n runs instead of about four per
// run). Exactly once holds as for one run: the transaction commits every run's effects with
// its "succeeded", or none; a crash before the commit leaves the runs "running", taken
// again after their lease (or at start) by RunNext, which executes them one by one. When the
// group fails (a step's error, a conflict), the claimed runs are executed one by one the same
// way, so a failing run records its failure and does not hold back the others. It reports how
// many runs it claimed.
func (e *Engine) RunBatch(n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	// The claim leaves out the runs of the few workflows that cannot be grouped, instead of
	// listing the many that can: with 1,000 enabled workflows the list made SQLite build a
	// 1,000-row table for every claim (about 0.1 ms of CPU per run under the e2e load).
	not, grouped := e.ungroupedIDs()
	if !grouped {
		return 0, nil
	}
	filter := ""
	params := dbx.Params{}
	if len(not) > 0 {
		list, _ := json.Marshal(not)
		filter = "AND workflow NOT IN (SELECT value FROM json_each({:not}))"
		params["not"] = string(list)
	}
	now := e.cfg.Now()
	// The limit is written into the text, not bound: a bound LIMIT makes SQLite re-prepare the
	// statement at every execution (see outbox's claimSelect).
	params["now"], params["lease"] = dbTime(now), dbTime(now.Add(e.cfg.Lease))
	coll, err := e.app.FindCachedCollectionByNameOrId(RunsCollection)
	if err != nil {
		return 0, fmt.Errorf("claim a batch of runs: %w", err)
	}
	fresh := func(limit string) string {
		return `SELECT id FROM workflow_runs
			WHERE status = 'pending' AND attempts = 0 AND next_at <= {:now} ` + filter + `
			ORDER BY next_at LIMIT ` + limit
	}
	// Look before claiming (see runNext): a worker woken after another took the runs finds
	// none without taking the write lock.
	var found []string
	if err := e.app.ConcurrentDB().NewQuery(fresh("1")).Bind(params).Column(&found); err != nil {
		return 0, fmt.Errorf("look for fresh runs: %w", err)
	}
	if len(found) == 0 {
		return 0, nil
	}
	// The claim returns the claimed rows: no second statement loads them by id. It runs in a
	// transaction so that it joins the open group commit (see claimIn).
	var rows []dbx.NullStringMap
	err = claimIn(e.app, `
		UPDATE workflow_runs
		SET status = 'running', lease_until = {:lease}, attempts = attempts + 1, started = {:now}
		WHERE id IN (`+fresh(strconv.Itoa(n))+`)
		RETURNING *`, params, &rows)
	if err != nil {
		return 0, fmt.Errorf("claim a batch of runs: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	runs, err := schemas.RecordsFromRows(coll, rows)
	if err != nil {
		return len(rows), err // the runs stay claimed; RunNext takes them after their lease
	}
	slices.SortFunc(runs, func(a, b *core.Record) int { // queue order (RETURNING has none)
		return cmp.Or(strings.Compare(a.GetString("next_at"), b.GetString("next_at")),
			strings.Compare(a.GetString("created"), b.GetString("created")))
	})
	// Runs of a workflow disabled or deleted since they were queued (not in the list above)
	// are executed one by one, as RunNext would.
	group := runs[:0:0]
	for _, run := range runs {
		if w := e.workflowByID(run.GetString("workflow")); w != nil && w.grouped {
			group = append(group, run)
		} else {
			e.execute(run)
		}
	}
	if len(group) > 0 {
		if err := e.executeGroup(group); err != nil {
			e.groupFallbacks.Add(1)
			e.app.Logger().Debug("relata: a group of workflow runs failed; running them one by one", "runs", len(group), "error", err)
			for _, run := range group {
				e.execute(run)
			}
		}
	}
	if len(runs) == n {
		e.wakeWorkers() // a full group: another worker may take more
	}
	return len(runs), nil
}

// ungroupedIDs lists the ids of the enabled workflows whose runs RunBatch must not take, and
// reports whether any enabled workflow's runs may be grouped.
func (e *Engine) ungroupedIDs() (ids []string, some bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, w := range e.byName {
		if w.ID == "" {
			continue
		}
		if w.grouped {
			some = true
		} else {
			ids = append(ids, w.ID)
		}
	}
	return ids, some
}

// executeGroup executes claimed fresh runs in one transaction, with their outcomes; any
// error rolls back all of them.
//
// The group's step records are written with multi-row inserts, its emails with one
// outbox.EnqueueMany and its runs' outcomes with one update, just before the commit (see
// [groupWrites]); the records the steps create (a
// task, say) are saved one by one as always, with every hook a save runs.
func (e *Engine) executeGroup(runs []*core.Record) error {
	// The runs' contexts are made before the transaction, outside SQLite's one writer that
	// every other write waits for: each decodes its run's stored input (about a tenth of a
	// group's time in the writer), and none reads what the transaction writes.
	ws := make([]*Workflow, len(runs))
	rcs := make([]*RunContext, len(runs))
	for i, run := range runs {
		w := e.workflowByID(run.GetString("workflow"))
		if w == nil || !w.grouped {
			return fmt.Errorf("run %s: workflow changed", run.Id)
		}
		rc, err := e.runContext(w, run)
		if err != nil {
			return err
		}
		ws[i], rcs[i] = w, rc
	}
	g := &groupWrites{}
	err := e.app.RunInTransaction(func(tx core.App) error {
		ids := make([]any, 0, len(runs))
		for i, run := range runs {
			w, rc := ws[i], rcs[i]
			rc.group = g
			x := &executor{e: e, run: run, rc: rc, done: map[string]*core.Record{}, tx: tx, group: g}
			if err := x.steps(w.steps); err != nil {
				return err
			}
			ids = append(ids, run.Id)
		}
		if err := g.queueEmails(tx); err != nil {
			return err
		}
		if err := schemas.InsertMany(tx, StepsCollection, stepColumns, g.rows); err != nil {
			return err
		}
		now := dbTime(e.cfg.Now())
		_, err := tx.DB().Update(RunsCollection,
			dbx.Params{"status": StatusSucceeded, "error": "", "lease_until": "", "finished": now, "updated": now},
			dbx.In("id", ids...)).Execute()
		return err
	})
	if err == nil && len(g.emails) > 0 {
		outbox.Wake(e.app) // after the commit: the sender sees the emails
	}
	return err
}

// groupWrites holds the step records of a group of runs until the group writes them all at
// once. They are the same rows a record save writes: a group's runs are fresh, so each of
// their steps is new (no earlier attempt to update). Nothing listens to step records (no
// hook, no realtime subscription in the web app), so no hook is skipped.
type groupWrites struct {
	rows [][]any
	// emails are the send_email messages of the group's runs, each with the id its step
	// recorded, queued together at the end (queueEmails).
	emails []outbox.Message
}

// email keeps msg to be queued with the group and returns the id it will have.
func (g *groupWrites) email(msg outbox.Message) string {
	msg.ID = schemas.OrderedID()
	g.emails = append(g.emails, msg)
	return msg.ID
}

// queueEmails queues the group's emails in one go. An email whose idempotency key is already
// queued (it would keep another id than its step recorded) fails the group, whose runs then
// execute one by one, where send_email queues each email itself.
func (g *groupWrites) queueEmails(tx core.App) error {
	if len(g.emails) == 0 {
		return nil
	}
	ids, err := outbox.EnqueueMany(tx, g.emails)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if id != g.emails[i].ID {
			return fmt.Errorf("email %s: idempotency key %q already queued as %s", g.emails[i].ID, g.emails[i].IdempotencyKey, id)
		}
	}
	return nil
}

// stepColumns are the columns of a step row, in the order groupWrites.step fills them.
var stepColumns = []string{"id", "run", "path", "action", "status", "attempts", "output", "error",
	"started", "finished"}

// Limits of the workflow_steps fields (see the migration) that a record save would enforce.
const (
	stepPathMax   = 200
	stepActionMax = 40
	stepOutputMax = 1 << 20
)

// step queues the row of a new step record and returns the record as it will be stored. A
// value the collection would refuse is an error, which makes the group fall back to
// executing its runs one by one, where the record save reports it as always.
func (g *groupWrites) step(x *executor, st *step, status string, out any, msg string, attempt bool) (*core.Record, error) {
	if len(st.path) > stepPathMax || len(st.kind) > stepActionMax {
		return nil, fmt.Errorf("step %s of run %s: path or action too long for a step record", st.path, x.run.Id)
	}
	coll, err := x.tx.FindCachedCollectionByNameOrId(StepsCollection)
	if err != nil {
		return nil, err
	}
	var output any // NULL, as a record save stores an unset JSON field
	var raw types.JSONRaw
	if out != nil {
		if raw, err = json.Marshal(out); err != nil {
			return nil, err
		}
		if len(raw) > stepOutputMax {
			return nil, fmt.Errorf("step %s of run %s: output of %d bytes is too large", st.path, x.run.Id, len(raw))
		}
		output = string(raw)
	}
	now := x.e.cfg.Now().UTC()
	attempts := 0
	if attempt {
		attempts = 1
	}
	finished := ""
	if status == "succeeded" || status == "failed" {
		finished = dbTime(now)
	}
	id := schemas.OrderedID()
	g.rows = append(g.rows, []any{id, x.run.Id, st.path, st.kind, status, attempts, output, msg,
		dbTime(now), finished})
	rec := core.NewRecord(coll)
	rec.Id = id
	rec.Set("run", x.run.Id)
	rec.Set("path", st.path)
	rec.Set("action", st.kind)
	rec.Set("status", status)
	rec.Set("attempts", attempts)
	if raw != nil {
		rec.Set("output", raw)
	}
	rec.Set("error", msg)
	rec.Set("started", now)
	if finished != "" {
		rec.Set("finished", now)
	}
	return rec, nil
}
