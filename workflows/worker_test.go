package workflows_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/workflows"
)

// The workers look for runs other than fresh grouped ones (runNext) at a poll, and after a
// wake only when the wake can have brought one: a fresh run of a workflow that cannot be
// grouped, a run queued again by Retry, or more after a run runNext took. With the poll an
// hour away, all run at once.
func TestWorkersTakeWhatAWakeBrings(t *testing.T) {
	waitFor := func(t *testing.T, e *env, filter string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for e.count(t, workflows.RunsCollection, filter) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no run with %s; runs: %v", filter, e.runs(t, ""))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Run("a fresh run of a workflow that cannot be grouped", func(t *testing.T) {
		e := newEnv(t, workflows.Config{PollInterval: time.Hour})
		e.save(t, `{"name": "scripted", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
		  "actions": [{"type": "script", "source": "set('job_title', 'Scripted')"}]}`)
		e.eng.Start()
		time.Sleep(200 * time.Millisecond) // the workers' first look (at start) is over
		if code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": "Ann", "source": "website"}); code != 200 {
			t.Fatalf("create = %d %v", code, out)
		}
		waitFor(t, e, "status = 'succeeded'")
	})
	t.Run("a retried run", func(t *testing.T) {
		e := newEnv(t, workflows.Config{PollInterval: time.Hour, MaxAttempts: 1})
		// Bob's automation may not edit Alice's deal: the run fails until the deal is his.
		e.save(t, `{"name": "bobs", "enabled": true, "object": "deals", "trigger": {"type": "record_created"}, "runAs": "bob@example.com",
		  "actions": [{"type": "update_record", "values": {"description": "touched by bob"}}]}`)
		e.eng.Start()
		code, d := e.api(t, http.MethodPost, "/api/collections/deals/records", e.aliceTok, map[string]any{"name": "Alice's"})
		if code != 200 {
			t.Fatalf("create = %d %v", code, d)
		}
		waitFor(t, e, "status = 'failed' || status = 'dead'")
		deal, err := e.app.FindRecordById("deals", d["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		deal.Set("owner", e.bob.Id)
		if err := e.app.Save(deal); err != nil {
			t.Fatal(err)
		}
		run := e.runs(t, "status = 'failed' || status = 'dead'")[0]
		if err := e.eng.Retry(run.Id); err != nil {
			t.Fatal(err)
		}
		waitFor(t, e, "status = 'succeeded'")
	})
	t.Run("due retries found by a worker that ran one", func(t *testing.T) {
		// Runs that came due with time (retries) are found by a poll, or by a worker that a
		// run just executed by runNext woke: the chain goes on until none is left, without
		// waiting an hour for the poll.
		e := newEnv(t, workflows.Config{PollInterval: time.Hour, MaxAttempts: 1})
		e.save(t, `{"name": "bobs", "enabled": true, "object": "deals", "trigger": {"type": "record_created"}, "runAs": "bob@example.com",
		  "actions": [{"type": "update_record", "values": {"description": "touched by bob"}}]}`)
		const n = 6
		for i := range n {
			if code, d := e.api(t, http.MethodPost, "/api/collections/deals/records", e.aliceTok, map[string]any{"name": "Alice's " + string(rune('A'+i))}); code != 200 {
				t.Fatalf("create = %d %v", code, d)
			}
		}
		e.eng.Start() // the workers look at start: every run fails, Bob may not edit the deals
		deadline := time.Now().Add(15 * time.Second)
		for e.count(t, workflows.RunsCollection, "status = 'failed' || status = 'dead'") < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d runs failed", e.count(t, workflows.RunsCollection, "status = 'failed' || status = 'dead'"), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := e.app.DB().NewQuery("UPDATE deals SET owner = {:bob}").Bind(dbx.Params{"bob": e.bob.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
		failed := e.runs(t, "status = 'failed' || status = 'dead'")
		// All but one come due as retries, written straight to the table: nothing wakes a worker.
		for _, run := range failed[1:] {
			if _, err := e.app.DB().NewQuery("UPDATE workflow_runs SET status = 'retry', attempts = 0, next_at = '2000-01-01 00:00:00.000Z' WHERE id = {:id}").
				Bind(dbx.Params{"id": run.Id}).Execute(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if got := e.count(t, workflows.RunsCollection, "status = 'succeeded'"); got != 0 {
			t.Fatalf("%d runs succeeded before any wake", got)
		}
		if err := e.eng.Retry(failed[0].Id); err != nil {
			t.Fatal(err)
		}
		for e.count(t, workflows.RunsCollection, "status = 'succeeded'") < n {
			if time.Now().After(deadline.Add(10 * time.Second)) {
				t.Fatalf("%d of %d runs succeeded: the due retries wait for the poll", e.count(t, workflows.RunsCollection, "status = 'succeeded'"), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
