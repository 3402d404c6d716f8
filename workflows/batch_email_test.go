package workflows_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/outbox"
)

// A group of runs queues its emails together at its end: each email is the one its step
// recorded (same id, the step's idempotency key), once per run. An email already queued under
// a step's key (as after a crash between the queueing and the group's commit would be, were
// they not one transaction) makes the group execute one by one, where send_email finds the
// queued email instead of queueing a second.
func TestRunBatchQueuesItsEmailsTogether(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "send_email", "to": "email", "subject": "=\"Welcome \" + record.full_name", "text": "x"}]}`)
	create := func(i int) {
		t.Helper()
		code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": fmt.Sprintf("C%d", i), "email": fmt.Sprintf("c%d@example.com", i)})
		if code != 200 {
			t.Fatalf("create = %d %v", code, out)
		}
	}
	check := func(want int) {
		t.Helper()
		steps := e.runs(t, "id != ''")
		if len(steps) != want {
			t.Fatalf("%d runs; want %d", len(steps), want)
		}
		for _, run := range steps {
			if run.GetString("status") != workflows.StatusSucceeded {
				t.Errorf("run %s: %s %s", run.Id, run.GetString("status"), run.GetString("error"))
				continue
			}
			step, err := e.app.FindFirstRecordByFilter(workflows.StepsCollection, "run = {:r}", map[string]any{"r": run.Id})
			if err != nil {
				t.Fatalf("step of run %s: %v", run.Id, err)
			}
			var out struct {
				Email string `json:"email"`
			}
			if err := json.Unmarshal([]byte(step.GetString("output")), &out); err != nil || out.Email == "" {
				t.Fatalf("step output %s: %v", step.GetString("output"), err)
			}
			mails, err := e.app.FindRecordsByFilter(outbox.Collection, "run = {:r}", "", 0, 0, map[string]any{"r": run.Id})
			if err != nil {
				t.Fatal(err)
			}
			if len(mails) != 1 || mails[0].Id != out.Email || mails[0].GetString("idempotency_key") != run.Id+":"+step.GetString("path") {
				t.Errorf("run %s: %d emails, step says %s", run.Id, len(mails), out.Email)
			}
		}
	}
	for i := range 10 {
		create(i)
	}
	if n, err := e.eng.RunBatch(workflows.BatchSize); err != nil || n != 10 {
		t.Fatalf("RunBatch = %d, %v; want 10", n, err)
	}
	if n := e.eng.GroupFallbacks(); n != 0 {
		t.Fatalf("%d fallbacks; want none", n)
	}
	check(10)

	for i := 10; i < 13; i++ {
		create(i)
	}
	fresh := e.runs(t, "status = 'pending'")
	if len(fresh) != 3 {
		t.Fatalf("%d pending runs; want 3", len(fresh))
	}
	ids, err := outbox.EnqueueMany(e.app, []outbox.Message{{To: []string{"c11@example.com"}, Subject: "Welcome C11",
		Text: "x", RunID: fresh[1].Id, IdempotencyKey: fresh[1].Id + ":0"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.eng.RunBatch(workflows.BatchSize); err != nil || n != 3 {
		t.Fatalf("RunBatch = %d, %v; want 3", n, err)
	}
	if n := e.eng.GroupFallbacks(); n != 1 {
		t.Fatalf("%d fallbacks; want 1 (the email already queued)", n)
	}
	check(13)
	if got := e.count(t, outbox.Collection, "id = {:id}", map[string]any{"id": ids[0]}); got != 1 {
		t.Errorf("the email queued first is gone")
	}
}

// After a group, a worker looks for retries, waits and crashed runs (RunNext) without taking
// a fresh run RunBatch would group: executed alone, it costs about four write transactions.
// Fresh runs of a workflow RunBatch cannot group are still taken there.
func TestWorkerLeavesFreshRunsToGroups(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "grouped", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "create_task", "subject": "Call", "due": "1d"}]}`)
	e.save(t, `{"name": "alone", "enabled": true, "object": "companies", "trigger": {"type": "record_created"},
	  "actions": [{"type": "wait", "for": "1h"}, {"type": "create_task", "subject": "Later", "due": "1d"}]}`)
	for _, c := range []struct{ coll, field string }{{"contacts", "full_name"}, {"companies", "name"}} {
		code, out := e.api(t, http.MethodPost, "/api/collections/"+c.coll+"/records", e.aliceTok, map[string]any{c.field: "X"})
		if code != 200 {
			t.Fatalf("create %s = %d %v", c.coll, code, out)
		}
	}
	ran, err := e.eng.RunNextLeavingFresh()
	if err != nil || !ran {
		t.Fatalf("RunNextLeavingFresh = %v, %v; want the run of the workflow that cannot be grouped", ran, err)
	}
	if got := e.count(t, workflows.RunsCollection, "workflow_name = 'alone' && status = 'waiting'"); got != 1 {
		t.Errorf("%d waiting runs of 'alone'; want 1", got)
	}
	if ran, err = e.eng.RunNextLeavingFresh(); err != nil || ran {
		t.Fatalf("RunNextLeavingFresh = %v, %v; want nothing (the fresh grouped run is RunBatch's)", ran, err)
	}
	if n, err := e.eng.RunBatch(workflows.BatchSize); err != nil || n != 1 {
		t.Fatalf("RunBatch = %d, %v; want the fresh run", n, err)
	}
	if got := e.count(t, workflows.RunsCollection, "workflow_name = 'grouped' && status = 'succeeded'"); got != 1 {
		t.Errorf("%d succeeded runs of 'grouped'; want 1", got)
	}
}
