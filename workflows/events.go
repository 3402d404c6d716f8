package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// EventsCollection holds record changes that queued several runs, until the engine writes
// the runs (see [Engine.Enqueue]).
const EventsCollection = "workflow_events"

// eventMinRuns is how many runs a change must queue to be stored as one workflow event
// instead of one row per run. A row of workflow_runs costs the save its five index entries;
// with ten workflows on the saved object that was most of what they added to a create.
// A single run is written directly: an event would only add the engine's second write.
const eventMinRuns = 2

// eventBatch is how many events one transaction of the engine turns into runs.
const eventBatch = 200

// eventRun is one run an event queues, as stored in its runs column.
type eventRun struct {
	Workflow string `json:"workflow"`
	Name     string `json:"name"`
	Status   string `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
}

// insertEvent stores the runs one change queues as one workflow_events row, in the change's
// transaction. The runs share the change's record, event, actor, depth, chain and input.
func (e *Engine) insertEvent(tx core.App, runs []newRun) error {
	planned := make([]eventRun, len(runs))
	for i, r := range runs {
		id, name, _ := r.workflow()
		planned[i] = eventRun{Workflow: id, Name: name, Status: r.status, Error: r.err}
	}
	list, err := json.Marshal(planned)
	if err != nil {
		return err
	}
	r := runs[0]
	_, _, object := r.workflow()
	if r.input == nil {
		if r.input, err = marshalInput(r.in, r.event); err != nil {
			return err
		}
	}
	next := r.nextAt
	if next.IsZero() {
		next = e.cfg.Now()
	}
	_, err = tx.DB().NewQuery(`INSERT INTO ` + EventsCollection + `
		(id, object, record_id, event, actor, depth, chain, input, runs, next_at, created)
		VALUES ({:id}, {:object}, {:record}, {:event}, {:actor}, {:depth}, {:chain}, {:input}, {:runs}, {:next}, {:now})`).
		Bind(dbx.Params{"id": schemas.OrderedID(), "object": object, "record": r.recordID,
			"event": r.event, "actor": r.actor, "depth": r.depth, "chain": r.chain, "input": string(r.input), "runs": string(list),
			"next": dbTime(next), "now": dbTime(time.Now())}).Execute()
	if err != nil {
		return fmt.Errorf("queue runs of workflows on %s %s: %w", object, r.recordID, err)
	}
	return nil
}

// eventRow is a stored workflow event.
type eventRow struct {
	ID       string `db:"id"`
	Object   string `db:"object"`
	RecordID string `db:"record_id"`
	Event    string `db:"event"`
	Actor    string `db:"actor"`
	Depth    int    `db:"depth"`
	Chain    string `db:"chain"`
	Input    string `db:"input"`
	Runs     string `db:"runs"`
	NextAt   string `db:"next_at"`
	Created  string `db:"created"`
}

// fanOut writes the runs of every stored workflow event and deletes the events, a batch per
// transaction: an event's runs are written and it is deleted in the same transaction, so
// each run exists once whatever stops the process. It returns how many events it handled.
func (e *Engine) fanOut() (int, error) {
	total := 0
	for {
		var any int
		if err := e.app.DB().NewQuery("SELECT EXISTS (SELECT 1 FROM " + EventsCollection + ")").Row(&any); err != nil || any == 0 {
			return total, err
		}
		n, err := e.fanOutBatch()
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func (e *Engine) fanOutBatch() (int, error) {
	n := 0
	err := e.app.RunInTransaction(func(tx core.App) error {
		var rows []eventRow
		err := tx.DB().NewQuery(`SELECT id, object, record_id, event, actor, depth, chain, input, runs, next_at, created
			FROM ` + EventsCollection + ` ORDER BY rowid LIMIT ` + strconv.Itoa(eventBatch)).All(&rows) // a literal limit: see outbox's claimSelect
		if err != nil {
			return fmt.Errorf("read workflow events: %w", err)
		}
		var (
			runs []newRun
			ids  = make([]any, 0, len(rows))
		)
		for _, ev := range rows {
			var planned []eventRun
			if err := json.Unmarshal([]byte(ev.Runs), &planned); err != nil {
				return fmt.Errorf("workflow event %s: runs: %w", ev.ID, err)
			}
			next, err := types.ParseDateTime(ev.NextAt)
			if err != nil {
				return fmt.Errorf("workflow event %s: next_at: %w", ev.ID, err)
			}
			for _, p := range planned {
				runs = append(runs, newRun{wfID: p.Workflow, wfName: p.Name, object: ev.Object, recordID: ev.RecordID,
					event: ev.Event, actor: ev.Actor, depth: ev.Depth, chain: ev.Chain, status: p.Status, err: p.Error,
					nextAt: next.Time(), input: []byte(ev.Input), created: ev.Created})
			}
			ids = append(ids, ev.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, _, err := e.writeRuns(tx, runs); err != nil {
			return err
		}
		if _, err := tx.DB().Delete(EventsCollection, dbx.In("id", ids...)).Execute(); err != nil {
			return fmt.Errorf("delete workflow events: %w", err)
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// eventLoop writes the runs of stored workflow events when a change stored one (Wake) and
// at every poll (events stored by another process, or before a crash), then wakes the
// workers.
func (e *Engine) eventLoop(stop <-chan struct{}) {
	defer e.wg.Done()
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("relata", "workflow events"))) // CPU profiles tell the workers apart
	tick := time.NewTicker(e.cfg.PollInterval)
	defer tick.Stop()
	for {
		// At start (events left by the previous process), after every Wake and every poll.
		// fanOut first reads whether any event is stored, outside the write lock.
		if n, err := e.fanOut(); err != nil {
			e.app.Logger().Error("relata: queue the runs of workflow events", "error", err)
		} else if n > 0 {
			e.wakeWorkers()
		}
		select {
		case <-stop:
			return
		case <-e.events:
		case <-tick.C:
		}
	}
}
