package workflows_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/outbox"
)

// RunBatch executes up to n fresh runs of a database-only workflow in one transaction; a
// group with a failing run rolls back and its runs execute one by one, so the failure is
// recorded on its own run and the others still succeed, each step exactly once.
func TestRunBatchGroupCommitAndFallback(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d"},
	              {"type": "send_email", "to": "email", "subject": "=record.message", "text": "x"}]}`)
	e.save(t, `{"name": "later", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "wait", "for": "1h"}, {"type": "create_task", "subject": "Later", "due": "1d"}]}`)
	create := func(i int, msg string) {
		t.Helper()
		code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": fmt.Sprintf("C%d", i), "email": fmt.Sprintf("c%d@example.com", i), "message": msg})
		if code != 200 {
			t.Fatalf("create = %d %v", code, out)
		}
		if _, err := e.eng.FanOut(); err != nil { // two workflows: the runs wait as a workflow event
			t.Fatal(err)
		}
	}
	for i := range 40 {
		create(i, "Hello")
	}
	n, err := e.eng.RunBatch(workflows.BatchSize)
	if err != nil || n != workflows.BatchSize {
		t.Fatalf("RunBatch = %d, %v; want %d", n, err, workflows.BatchSize)
	}
	if got := e.count(t, workflows.RunsCollection, "status = 'succeeded'"); got != workflows.BatchSize {
		t.Errorf("%d runs succeeded after one batch; want %d", got, workflows.BatchSize)
	}
	if got := e.count(t, "activities", "subject ~ 'Call C'"); got != workflows.BatchSize {
		t.Errorf("%d tasks after one batch; want %d", got, workflows.BatchSize)
	}
	n, _ = e.eng.RunBatch(workflows.BatchSize)
	if n != 8 {
		t.Errorf("second batch took %d runs; want the 8 left (the waiting workflow is not grouped)", n)
	}
	if n, _ = e.eng.RunBatch(workflows.BatchSize); n != 0 {
		t.Errorf("third batch took %d runs; want none", n)
	}
	if n := e.eng.GroupFallbacks(); n != 0 {
		t.Errorf("%d group(s) fell back to one by one; want none", n)
	}

	// A group with one failing run: the others succeed, the failure is on its own run.
	for i := 40; i < 45; i++ {
		msg := "Hello"
		if i == 42 {
			msg = "Hi\r\nBcc: victim@example.com"
		}
		create(i, msg)
	}
	if n, err = e.eng.RunBatch(workflows.BatchSize); err != nil || n != 5 {
		t.Fatalf("RunBatch = %d, %v; want 5", n, err)
	}
	if n := e.eng.GroupFallbacks(); n != 1 {
		t.Errorf("%d group(s) fell back to one by one; want the failing one", n)
	}
	failed := e.runs(t, `status = "failed"`)
	if len(failed) != 1 || !strings.Contains(failed[0].GetString("error"), "line break") {
		t.Fatalf("failed runs = %d; want the one with a line break in its subject", len(failed))
	}
	if got := e.count(t, workflows.RunsCollection, "status = 'succeeded'"); got != 44 {
		t.Errorf("%d runs succeeded; want 44", got)
	}
	// The waiting workflow's runs are left to RunNext, one by one.
	e.drain(t)
	if got := e.count(t, workflows.RunsCollection, "status = 'waiting'"); got != 45 {
		t.Errorf("%d waiting runs; want 45", got)
	}
	// Exactly once: one task per contact (the failing run's first step committed alone),
	// one email per good contact, one step record per step.
	for i := range 45 {
		if got := e.count(t, "activities", "subject = {:s}", map[string]any{"s": fmt.Sprintf("Call C%d", i)}); got != 1 {
			t.Errorf("contact C%d has %d tasks; want 1", i, got)
		}
	}
	if got := e.count(t, outbox.Collection, "id != ''"); got != 44 {
		t.Errorf("%d emails queued; want 44", got)
	}
	if got := e.count(t, workflows.StepsCollection, "action = 'create_task'"); got != 45 {
		t.Errorf("%d create_task step records; want 45", got)
	}
}
