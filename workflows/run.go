package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/workflows/condition"
)

// Run statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusWaiting   = "waiting"
	StatusRetry     = "retry"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusDead      = "dead"
	StatusSkipped   = "skipped"
	// StatusStopped is a run whose stopIf held before one of its steps (a sequence's exit).
	StatusStopped = "stopped"
)

func dbTime(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// worker executes due runs until the engine stops.
func (e *Engine) worker() {
	defer e.wg.Done()
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("relata", "workflow worker"))) // CPU profiles tell the workers apart
	tick := time.NewTicker(e.cfg.PollInterval)
	defer tick.Stop()
	polled := true // at start, look for every kind of due run (runs a crash left)
	for {
		for {
			select {
			case <-e.stop:
				return
			default:
			}
			n, err := e.RunBatch(BatchSize)
			if err != nil {
				e.app.Logger().Error("relata: workflow worker", "error", err)
				break
			}
			if n == BatchSize {
				continue // a full group: more may be waiting
			}
			// A smaller group took every fresh run there was; runs queued since then woke
			// the workers (e.wake), so no second claim now (it would find none).
			if !polled && !e.looseWork() {
				break
			}
			ran, err := e.runNext(true)
			if err != nil {
				e.app.Logger().Error("relata: workflow worker", "error", err)
				break
			}
			if !ran {
				break
			}
		}
		polled = false
		select {
		case <-e.stop:
			return
		case <-e.wake:
		case <-tick.C:
			polled = true
		}
	}
}

// looseWork reports whether a wake may have found runs that RunBatch leaves to runNext
// before the next poll: fresh runs of a workflow that cannot be grouped, a run queued again
// (Retry), or more due runs after one another worker's runNext took. The others runNext takes — retries and waits that came due, runs whose
// worker died — fall due with time, not with a wake: the poll finds them. Looking for them
// at every wake made each look read every queued run (they are all "pending"), about 2 %
// of a run's CPU at the end-to-end load.
func (e *Engine) looseWork() bool {
	if e.loose.Swap(false) {
		return true
	}
	not, _ := e.ungroupedIDs()
	return len(not) > 0
}

// Drain executes due runs until none is left, and reports how many it executed. Tests and
// `relata workflow run` use it; the server's workers do the same continuously.
func (e *Engine) Drain() (int, error) {
	n := 0
	for {
		if _, err := e.fanOut(); err != nil { // runs stored as workflow events (events.go)
			return n, err
		}
		b, err := e.RunBatch(BatchSize)
		if err != nil {
			return n, err
		}
		if b > 0 {
			n += b
			continue
		}
		ran, err := e.RunNext()
		if err != nil || !ran {
			return n, err
		}
		n++
	}
}

// RunNext claims one due run — queued, retrying, waiting past its time, or running past its
// lease (its worker died) — and executes it. It reports whether there was one.
func (e *Engine) RunNext() (bool, error) { return e.runNext(false) }

// runNext is RunNext; with leaveFresh (the workers), it leaves fresh runs to RunBatch, except
// those of the workflows RunBatch cannot group: taking one here would execute it alone
// (about four write transactions) while a group was about to take it with others.
func (e *Engine) runNext(leaveFresh bool) (bool, error) {
	now := e.cfg.Now()
	params := dbx.Params{"now": dbTime(now), "lease": dbTime(now.Add(e.cfg.Lease))}
	fresh := ""
	if not, grouped := e.ungroupedIDs(); leaveFresh && grouped {
		list, _ := json.Marshal(not)
		fresh = "AND (status != 'pending' OR attempts > 0 OR workflow IN (SELECT value FROM json_each({:not})))"
		params["not"] = string(list)
	}
	due := `
			SELECT id FROM workflow_runs
			WHERE ((status IN ('pending', 'retry', 'waiting') AND next_at <= {:now})
			   OR (status = 'running' AND lease_until <= {:now})) ` + fresh + `
			ORDER BY next_at LIMIT 1`
	// Look before claiming: the claim is a write, and an UPDATE that finds nothing still takes
	// SQLite's write lock (and the app's one write connection) from the groups that commit.
	// Most looks find nothing (a group took the fresh runs); a run due just after the look
	// is taken at the next wake or poll.
	var found []string
	if err := e.app.ConcurrentDB().NewQuery(due).Bind(params).Column(&found); err != nil {
		return false, fmt.Errorf("look for a due run: %w", err)
	}
	if len(found) == 0 {
		return false, nil
	}
	coll, err := e.app.FindCachedCollectionByNameOrId(RunsCollection)
	if err != nil {
		return false, err
	}
	var rows []dbx.NullStringMap // the claim returns the run: no second statement loads it
	err = claimIn(e.app, `
		UPDATE workflow_runs
		SET status = 'running', lease_until = {:lease}, attempts = attempts + 1,
		    started = CASE WHEN started = '' THEN {:now} ELSE started END
		WHERE id = (`+due+`)
		RETURNING *`, params, &rows)
	if err != nil {
		return false, fmt.Errorf("claim a run: %w", err)
	}
	if len(rows) == 0 {
		return false, nil // another worker took it
	}
	runs, err := schemas.RecordsFromRows(coll, rows)
	if err != nil {
		return true, err
	}
	run := runs[0]
	e.execute(run)
	e.loose.Store(true) // let another worker look for more
	e.Wake()
	return true, nil
}

// errWaiting ends an execution that must resume later.
type errWaiting struct{ until time.Time }

func (errWaiting) Error() string { return "waiting" }

// execute runs a claimed run to its end, a wait, or a failure, and records the outcome.
func (e *Engine) execute(run *core.Record) {
	w := e.workflowByID(run.GetString("workflow"))
	if w == nil {
		e.finish(run, StatusFailed, "the workflow was deleted or disabled after this run was queued", time.Time{})
		return
	}
	rc, err := e.runContext(w, run)
	if err != nil {
		e.finish(run, StatusFailed, err.Error(), time.Time{})
		return
	}
	done, err := e.doneSteps(run.Id)
	if err != nil {
		e.finish(run, StatusRetry, err.Error(), e.cfg.Now().Add(e.cfg.RetryBase))
		return
	}
	x := &executor{e: e, w: w, run: run, rc: rc, done: done}
	err = x.steps(w.steps)
	var wt errWaiting
	var stop errStopped
	switch {
	case errors.As(err, &stop):
		e.finish(run, StatusStopped, stop.reason, time.Time{})
	case err == nil:
		e.finish(run, StatusSucceeded, "", time.Time{})
	case errors.As(err, &wt):
		e.finish(run, StatusWaiting, "", wt.until)
	case isPermanent(err):
		e.finish(run, StatusFailed, err.Error(), time.Time{})
	case x.attempts >= e.cfg.MaxAttempts:
		e.finish(run, StatusDead, fmt.Sprintf("gave up after %d attempts: %v", x.attempts, err), time.Time{})
	default:
		e.finish(run, StatusRetry, err.Error(), e.cfg.Now().Add(e.backoff(x.attempts)))
	}
}

// backoff is the delay before retry n (1-based): RetryBase·2^(n-1), ±25% jitter, at most a day.
func (e *Engine) backoff(n int) time.Duration {
	d := e.cfg.RetryBase << min(n-1, 20)
	if d > 24*time.Hour || d <= 0 {
		d = 24 * time.Hour
	}
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

func (e *Engine) finish(run *core.Record, status, msg string, next time.Time) {
	params := dbx.Params{"status": status, "error": msg, "lease_until": ""}
	switch status {
	case StatusWaiting, StatusRetry:
		params["next_at"] = dbTime(next)
	default:
		params["finished"] = dbTime(e.cfg.Now())
	}
	params["updated"] = dbTime(e.cfg.Now())
	if _, err := e.app.DB().Update(RunsCollection, params, dbx.HashExp{"id": run.Id}).Execute(); err != nil {
		e.app.Logger().Error("relata: record run outcome", "run", run.Id, "status", status, "error", err)
	}
}

// runContext rebuilds what actions see from the stored run.
func (e *Engine) runContext(w *Workflow, run *core.Record) (*RunContext, error) {
	var in runInput
	if err := json.Unmarshal([]byte(run.GetString("input")), &in); err != nil {
		return nil, fmt.Errorf("bad run input: %w", err)
	}
	rc := &RunContext{
		Engine:   e,
		Run:      run,
		Object:   w.Object,
		RecordID: run.GetString("record_id"),
		Input: condition.Input{Record: in.Record, Old: in.Old, Changed: in.Changed, User: in.User,
			Now: e.cfg.Now(), Event: in.Event},
	}
	if w.Object == noObject {
		rc.Object = nil
	} else if rc.RecordID != "" {
		// Branches, waits and values of the run may ask inSegment, replied and unsubscribed.
		rc.Input.Facts = newFacts(e.app, w.Object.Name, rc.Input.Record, run.GetDateTime("created").Time())
	}
	if w.runAs != "" {
		u, err := e.app.FindRecordById("users", w.runAs)
		if err != nil {
			return nil, fmt.Errorf("run-as user %s no longer exists", w.Def.RunAs)
		}
		rc.Actor, rc.runAs = u, w.Def.RunAs
	}
	actorID := w.runAs
	// The run's writes are audited as the run's (package schemas/audit).
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindWorkflow, ID: run.Id, Via: "workflow:" + w.Def.Name})
	// The runs its writes queue are one deeper, in its chain: the chain of the run that
	// started it, or its own when no run did (chain.go).
	chain := run.GetString("chain")
	if chain == "" {
		chain = run.Id
	}
	rc.Ctx = withRun(ctx, run.GetInt("depth")+1, actorID, chain)
	return rc, nil
}

// doneSteps returns the recorded steps of a run by path.
func (e *Engine) doneSteps(runID string) (map[string]*core.Record, error) {
	recs, err := e.app.FindAllRecords(StepsCollection, dbx.HashExp{"run": runID})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*core.Record, len(recs))
	for _, r := range recs {
		out[r.GetString("path")] = r
	}
	return out, nil
}

// executor walks a run's steps, skipping those already done.
type executor struct {
	e        *Engine
	w        *Workflow
	run      *core.Record
	rc       *RunContext
	done     map[string]*core.Record
	attempts int // attempts of the step that failed last
	// tx, when set, is the transaction of a group of runs (RunBatch): every step writes
	// through it and any error aborts the group instead of being recorded.
	tx core.App
	// group, with tx, collects the group's step records, written with multi-row inserts
	// before the group commits instead of one record save each.
	group *groupWrites
}

// app is where the executor records steps: the group's transaction, or the app.
func (x *executor) app() core.App {
	if x.tx != nil {
		return x.tx
	}
	return x.e.app
}

func (x *executor) steps(steps []*step) error {
	for _, st := range steps {
		if err := x.step(st); err != nil {
			return err
		}
	}
	return nil
}

func (x *executor) step(st *step) error {
	prev := x.done[st.path]
	if prev != nil && prev.GetString("status") == "succeeded" {
		if b, ok := st.action.(*branch); ok {
			return x.steps(b.pick(prev))
		}
		return nil
	}
	if err := x.checkStop(st); err != nil {
		return err
	}
	rc := *x.rc
	rc.StepKey = x.run.Id + ":" + st.path
	switch a := st.action.(type) {
	case *branch:
		ok, err := a.cond.Eval(rc.Input)
		if err != nil {
			return Permanent(fmt.Errorf("step %s: condition: %w", st.path, err))
		}
		taken := "else"
		if ok {
			taken = "then"
		}
		if err := x.record(x.app(), st, prev, "succeeded", map[string]any{"branch": taken}, "", false); err != nil {
			return err
		}
		if ok {
			return x.steps(a.then)
		}
		return x.steps(a.els)
	case *wait:
		return x.wait(st, a, prev, &rc)
	case *forEach:
		return x.forEach(st, a, prev)
	case External:
		// Marked running first: a crash during the call leaves a trace, and the retry reuses
		// the step key as the idempotency key of the call.
		if err := x.record(x.e.app, st, prev, "running", nil, "", true); err != nil {
			return err
		}
		rc.App = x.e.app
		out, err := a.Run(&rc)
		if err != nil {
			return x.fail(st, err)
		}
		return x.record(x.e.app, st, x.stepRec(st), "succeeded", out, "", false)
	default:
		var saved *core.Record
		err := x.app().RunInTransaction(func(tx core.App) error {
			rc.App = tx
			out, err := st.action.Run(&rc)
			if err != nil {
				return err
			}
			saved, err = x.save(tx, st, prev, "succeeded", out, "", true)
			return err
		})
		if err != nil {
			return x.fail(st, err)
		}
		x.done[st.path] = saved
		return nil
	}
}

func (b *branch) pick(step *core.Record) []*step {
	var out struct {
		Branch string `json:"branch"`
	}
	_ = json.Unmarshal([]byte(step.GetString("output")), &out)
	if out.Branch == "then" {
		return b.then
	}
	return b.els
}

func (x *executor) wait(st *step, a *wait, prev *core.Record, rc *RunContext) error {
	now := x.e.cfg.Now()
	if prev != nil && prev.GetString("status") == "waiting" {
		var out struct {
			Until time.Time `json:"until"`
		}
		_ = json.Unmarshal([]byte(prev.GetString("output")), &out)
		if now.Before(out.Until) {
			return errWaiting{until: out.Until}
		}
		return x.record(x.e.app, st, prev, "succeeded", map[string]any{"until": out.Until, "resumed": now.UTC()}, "", false)
	}
	var until time.Time
	if a.For != "" {
		d, _ := ParseDuration(a.For)
		until = now.Add(d)
	} else {
		v, err := a.until.Run(rc.Input)
		if err != nil {
			return Permanent(fmt.Errorf("step %s: until: %w", st.path, err))
		}
		t, ok := v.(time.Time)
		if !ok {
			return Permanent(fmt.Errorf("step %s: until gave %T, not a time", st.path, v))
		}
		until = t
	}
	if !until.After(now) {
		return x.record(x.e.app, st, prev, "succeeded", map[string]any{"until": until.UTC(), "resumed": now.UTC()}, "", false)
	}
	if err := x.record(x.e.app, st, prev, "waiting", map[string]any{"until": until.UTC()}, "", false); err != nil {
		return err
	}
	return errWaiting{until: until}
}

// fail records a failed attempt of a step (outside any rolled back transaction).
func (x *executor) fail(st *step, err error) error {
	if x.tx != nil {
		return err // the group rolls back; its runs are executed again one by one
	}
	_, isExternal := st.action.(External)
	// An external step counted its attempt when it was marked running.
	if rerr := x.record(x.e.app, st, x.stepRec(st), "failed", nil, err.Error(), !isExternal); rerr != nil {
		return errors.Join(err, rerr)
	}
	return fmt.Errorf("step %s (%s): %w", st.path, st.kind, err)
}

func (x *executor) stepRec(st *step) *core.Record {
	if r := x.done[st.path]; r != nil {
		return r
	}
	r, err := x.e.app.FindFirstRecordByFilter(StepsCollection, "run = {:run} && path = {:path}", dbx.Params{"run": x.run.Id, "path": st.path})
	if err != nil {
		return nil
	}
	return r
}

// record upserts the step's record outside any transaction.
func (x *executor) record(app core.App, st *step, prev *core.Record, status string, out any, msg string, attempt bool) error {
	rec, err := x.save(app, st, prev, status, out, msg, attempt)
	if err != nil {
		return err
	}
	x.done[st.path] = rec
	return nil
}

// save upserts the step's record through app (the step's transaction, or the app).
func (x *executor) save(app core.App, st *step, prev *core.Record, status string, out any, msg string, attempt bool) (*core.Record, error) {
	if x.group != nil && prev == nil {
		// A fresh run in a group has no step record yet: queue its row.
		rec, err := x.group.step(x, st, status, out, msg, attempt)
		if err == nil {
			x.attempts = rec.GetInt("attempts")
		}
		return rec, err
	}
	var rec *core.Record
	if prev != nil {
		// Read it again through app: prev may come from an earlier attempt, and a record
		// changed inside a rolled back transaction must not be reused.
		rec, _ = app.FindRecordById(StepsCollection, prev.Id)
	}
	if rec == nil {
		coll, err := app.FindCachedCollectionByNameOrId(StepsCollection)
		if err != nil {
			return nil, err
		}
		rec = core.NewRecord(coll)
		rec.Id = schemas.OrderedID()
		rec.Set("run", x.run.Id)
		rec.Set("path", st.path)
		rec.Set("action", st.kind)
		rec.Set("started", x.e.cfg.Now().UTC())
	}
	rec.Set("status", status)
	if attempt {
		rec.Set("attempts", rec.GetInt("attempts")+1)
	}
	x.attempts = rec.GetInt("attempts")
	if out != nil {
		b, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		rec.Set("output", types.JSONRaw(b))
	}
	rec.Set("error", msg)
	if status == "succeeded" || status == "failed" {
		rec.Set("finished", x.e.cfg.Now().UTC())
	}
	if err := app.Save(rec); err != nil {
		return nil, fmt.Errorf("record step %s of run %s: %w", st.path, x.run.Id, err)
	}
	return rec, nil
}

// claimIn runs a claim (an UPDATE … RETURNING) in a transaction of its own, and fills rows
// with what it returns once that transaction has committed. Alone, the statement would
// commit by itself on the app's one write connection: with group commit on, it joins the
// open group instead, shares its commit (its WAL frames and any checkpoint), and does not
// hold the connection that the group's next transaction waits for (BENCHMARKS.md, "Claims
// join the group commit").
func claimIn(app core.App, sql string, params dbx.Params, rows *[]dbx.NullStringMap) error {
	return app.RunInTransaction(func(tx core.App) error {
		return tx.DB().NewQuery(sql).Bind(params).All(rows)
	})
}
