package workflows

import (
	"encoding/json"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
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
	ids := e.groupableIDs()
	if len(ids) == 0 || n <= 0 {
		return 0, nil
	}
	list, _ := json.Marshal(ids)
	now := e.cfg.Now()
	var claimed []string
	err := e.app.DB().NewQuery(`
		UPDATE workflow_runs
		SET status = 'running', lease_until = {:lease}, attempts = attempts + 1, started = {:now}
		WHERE id IN (
			SELECT id FROM workflow_runs
			WHERE status = 'pending' AND attempts = 0 AND next_at <= {:now}
			  AND workflow IN (SELECT value FROM json_each({:wf}))
			ORDER BY next_at LIMIT {:n})
		RETURNING id`).
		Bind(dbx.Params{"now": dbTime(now), "lease": dbTime(now.Add(e.cfg.Lease)), "wf": string(list), "n": n}).
		Column(&claimed)
	if err != nil {
		return 0, fmt.Errorf("claim a batch of runs: %w", err)
	}
	if len(claimed) == 0 {
		return 0, nil
	}
	runs, err := e.app.FindRecordsByIds(RunsCollection, claimed)
	if err != nil {
		return len(claimed), err // the runs stay claimed; RunNext takes them after their lease
	}
	if err := e.executeGroup(runs); err != nil {
		for _, run := range runs {
			e.execute(run)
		}
	}
	e.Wake()
	return len(claimed), nil
}

// groupableIDs lists the ids of the enabled workflows whose fresh runs RunBatch may take.
func (e *Engine) groupableIDs() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var ids []string
	for _, w := range e.byName {
		if w.ID != "" && w.grouped {
			ids = append(ids, w.ID)
		}
	}
	return ids
}

// executeGroup executes claimed fresh runs in one transaction, with their outcomes; any
// error rolls back all of them.
func (e *Engine) executeGroup(runs []*core.Record) error {
	return e.app.RunInTransaction(func(tx core.App) error {
		for _, run := range runs {
			w := e.workflowByID(run.GetString("workflow"))
			if w == nil || !w.grouped {
				return fmt.Errorf("run %s: workflow changed", run.Id)
			}
			rc, err := e.runContext(w, run)
			if err != nil {
				return err
			}
			x := &executor{e: e, run: run, rc: rc, done: map[string]*core.Record{}, tx: tx}
			if err := x.steps(w.steps); err != nil {
				return err
			}
			now := dbTime(e.cfg.Now())
			if _, err := tx.DB().Update(RunsCollection,
				dbx.Params{"status": StatusSucceeded, "error": "", "lease_until": "", "finished": now, "updated": now},
				dbx.HashExp{"id": run.Id}).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}
