package workflows

import (
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// DefaultMaxChainRuns is Config.MaxChainRuns when none is set. A chain that legitimately
// reaches it is already unusual — a for_each over a thousand records (its default max)
// whose every item triggers workflows that fan out again — while a chain growing as N^k,
// which it stops, would otherwise queue millions of runs from one save and hold the
// database's one writer for hours. At the 400–900 runs a second measured end to end
// (BENCHMARKS.md), 10,000 runs are 10–25 seconds of work.
const DefaultMaxChainRuns = 10000

// A chain is the runs that descend from one run no workflow caused (its root: the run a user's
// save, a schedule, a form or a manual start queued). The root's id is the chain id: its
// descendants store it in their chain column (and the workflow events they are stored as
// first, events.go), and carry it in the context of their writes (withRun), as they carry
// their depth.
//
// The budget is a counter on the root's own row, workflow_runs.chain_runs: how many runs the
// chain asked for, granted or refused. Every change made by a run adds the runs it triggers
// with one UPDATE … RETURNING by primary key, in the transaction that queues them, so:
//
//   - it is exact under concurrency: SQLite has one writer, and runs of one chain queued by
//     different workers, or by members of one group commit (each in its savepoint), add in
//     turn; a transaction that rolls back (a failed step, a group that falls back to running
//     its runs one by one, a crash before the commit) takes its addition with it, exactly
//     like the runs it queued, so a step executed again is not counted twice;
//   - it counts runs whether they are written as rows or as one workflow event, and what
//     was refused stays refused when the event's runs are written (no second count);
//   - it costs one indexed write per change made by a run, whatever the chain's size,
//     where a count(*) of the chain's rows would cost up to MaxChainRuns index steps per
//     change near the bound, and miss the runs still held in workflow events;
//   - a change at depth 0 (a user's save, the hot path) starts chains and counts nothing.
//
// chargeChain marks the runs (queued by one change at a depth between 1 and MaxDepth) that
// the chain's budget has no room for as skipped, with an error naming the chain's root.
func (e *Engine) chargeChain(tx core.App, chain string, runs []newRun) error {
	n := 0
	for _, r := range runs {
		if r.status == "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	var root []struct {
		Runs     int    `db:"chain_runs"`
		Workflow string `db:"workflow_name"`
		Object   string `db:"object"`
		Record   string `db:"record_id"`
	}
	err := tx.DB().NewQuery(`UPDATE ` + RunsCollection + ` SET chain_runs = chain_runs + {:n} WHERE id = {:chain}
		RETURNING chain_runs, workflow_name, object, record_id`).Bind(dbx.Params{"n": n, "chain": chain}).All(&root)
	if err != nil {
		return fmt.Errorf("count the runs of workflow chain %s: %w", chain, err)
	}
	var grant int
	var msg string
	if len(root) == 0 {
		// The root run was deleted (with its workflow, or by retention): the chain's budget is
		// gone with it. Refusing stops the chain — deleting the workflow that started a runaway
		// chain is then a way to stop it — where granting would leave it unbounded.
		msg = fmt.Sprintf("not run: the run that started this chain of workflows (%s) was deleted, so the chain's runs can no longer be counted against MaxChainRuns (%d)", chain, e.cfg.MaxChainRuns)
	} else {
		r := root[0]
		grant = max(0, min(n, e.cfg.MaxChainRuns-(r.Runs-n)))
		where := r.Object + "/" + r.Record
		if r.Record == "" {
			where = "no record"
		}
		msg = fmt.Sprintf("not run: the chain of workflows started by %q on %s reached MaxChainRuns (%d) runs; "+
			"its workflows fan out (for_each) over records whose changes trigger workflows again. The chain's runs have chain = %s",
			r.Workflow, where, e.cfg.MaxChainRuns, chain)
	}
	for i := range runs {
		if runs[i].status != "" {
			continue
		}
		if grant > 0 {
			grant--
			continue
		}
		runs[i].status, runs[i].err = StatusSkipped, msg
	}
	return nil
}
