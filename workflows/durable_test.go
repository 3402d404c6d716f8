package workflows_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

func TestDepthLimitStopsLoops(t *testing.T) {
	e := newEnv(t, workflows.Config{MaxDepth: 3})
	// Every update of a deal updates the deal again: an endless chain without the limit.
	e.save(t, `{"name": "loop", "enabled": true, "object": "deals", "trigger": {"type": "record_updated"},
	  "actions": [{"type": "update_record", "values": {"amount": "=record.amount + 1"}}]}`)
	_, d := e.api(t, http.MethodPost, "/api/collections/deals/records", e.aliceTok, map[string]any{"name": "D"})
	e.api(t, http.MethodPatch, "/api/collections/deals/records/"+d["id"].(string), e.aliceTok, map[string]any{"amount": 1})
	for i := 0; i < 10 && e.drain(t) > 0; i++ {
	}
	deal, _ := e.app.FindRecordById("deals", d["id"].(string))
	if got := deal.GetFloat("amount"); got != 4 {
		t.Errorf("amount = %v; want 4 (the user's change, then depths 0, 1, 2)", got)
	}
	skipped := e.runs(t, "status = 'skipped'")
	if len(skipped) != 1 || !strings.Contains(skipped[0].GetString("error"), "depth limit (3)") {
		t.Fatalf("skipped runs = %v", skipped)
	}
	if got := len(e.runs(t, "status = 'succeeded'")); got != 3 {
		t.Errorf("succeeded runs = %d; want 3", got)
	}
}

func TestWaitSurvivesAndResumes(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "nudge", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [
	    {"type": "create_task", "subject": "First call", "due": "0d"},
	    {"type": "wait", "for": "2d"},
	    {"type": "create_task", "subject": "Second call", "due": "0d"}
	  ]}`)
	e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok, map[string]any{"full_name": "Ada"})
	e.drain(t)
	run := e.runs(t, "")[0]
	if run.GetString("status") != workflows.StatusWaiting {
		t.Fatalf("status = %s (%s); want waiting", run.GetString("status"), run.GetString("error"))
	}
	if e.count(t, "activities", "subject = 'First call'") != 1 || e.count(t, "activities", "subject = 'Second call'") != 0 {
		t.Fatal("the wait did not stop the run after the first step")
	}
	// A day later nothing is due; the state lives in the database, not in memory.
	e.clock.Add(24 * time.Hour)
	if n := e.drain(t); n != 0 {
		t.Fatalf("ran %d runs before the wait ended", n)
	}
	e.clock.Add(25 * time.Hour)
	if n := e.drain(t); n != 1 {
		t.Fatalf("ran %d runs after the wait; want 1", n)
	}
	if e.count(t, "activities", "subject = 'First call'") != 1 || e.count(t, "activities", "subject = 'Second call'") != 1 {
		t.Error("resuming repeated or skipped a step")
	}
	run, _ = e.app.FindRecordById(workflows.RunsCollection, run.Id)
	if run.GetString("status") != workflows.StatusSucceeded {
		t.Errorf("status = %s", run.GetString("status"))
	}
}

// TestCrashedRunResumesWithoutRepeating simulates a worker that died after the first step
// committed: the run stays "running" until its lease ends, then another worker resumes it.
func TestCrashedRunResumesWithoutRepeating(t *testing.T) {
	e := newEnv(t, workflows.Config{Lease: time.Minute})
	e.save(t, `{"name": "two-steps", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [
	    {"type": "create_task", "subject": "One", "due": "0d"},
	    {"type": "create_task", "subject": "Two", "due": "0d"}
	  ]}`)
	e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok, map[string]any{"full_name": "Ada"})
	e.drain(t)
	run := e.runs(t, "")[0]
	// Rewind: as if the worker crashed right after step 0 committed.
	if _, err := e.app.DB().Delete(workflows.StepsCollection, dbx.HashExp{"run": run.Id, "path": "1"}).Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB().Delete("activities", dbx.HashExp{"subject": "Two"}).Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB().Update(workflows.RunsCollection, dbx.Params{"status": "running", "lease_until": e.clock.Now().Add(time.Minute).UTC().Format("2006-01-02 15:04:05.000Z")},
		dbx.HashExp{"id": run.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if n := e.drain(t); n != 0 {
		t.Fatalf("a run was taken from a live worker (%d)", n)
	}
	e.clock.Add(2 * time.Minute)
	if n := e.drain(t); n != 1 {
		t.Fatalf("the crashed run was not resumed (%d)", n)
	}
	if one, two := e.count(t, "activities", "subject = 'One'"), e.count(t, "activities", "subject = 'Two'"); one != 1 || two != 1 {
		t.Errorf("tasks One=%d Two=%d; want 1 and 1", one, two)
	}
}

func TestRunAsChecksPermissions(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	// Bob's automation tries to edit Alice's deals: his rules forbid it.
	e.save(t, `{"name": "bobs", "enabled": true, "object": "deals", "trigger": {"type": "record_created"}, "runAs": "bob@example.com",
	  "actions": [{"type": "update_record", "values": {"description": "touched by bob"}}]}`)
	e.save(t, `{"name": "system", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [{"type": "update_record", "values": {"lost_reason": "n/a"}}]}`)
	_, d := e.api(t, http.MethodPost, "/api/collections/deals/records", e.aliceTok, map[string]any{"name": "Alice's"})
	e.drain(t)
	deal, _ := e.app.FindRecordById("deals", d["id"].(string))
	if deal.GetString("description") != "" {
		t.Error("a run-as user changed a record their rules forbid")
	}
	if deal.GetString("lost_reason") != "n/a" {
		t.Error("the system workflow did not run")
	}
	failed := e.runs(t, "status = 'failed'")
	if len(failed) != 1 || !strings.Contains(failed[0].GetString("error"), "bob@example.com may not update deals") {
		t.Fatalf("failed runs = %v", failed)
	}
	// Retry is possible and fails the same way (the rule still forbids it).
	if err := e.eng.Retry(failed[0].Id); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if got := len(e.runs(t, "status = 'failed'")); got != 1 {
		t.Errorf("failed runs after retry = %d", got)
	}
}

func TestTimeTriggers(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "daily", "enabled": true, "trigger": {"type": "schedule", "cron": "0 9 * * *"},
	  "actions": [{"type": "create_record", "object": "activities", "values": {"type": "note", "subject": "Daily digest", "due": "=now"}}]}`)
	e.save(t, `{"name": "close-soon", "enabled": true, "object": "deals", "trigger": {"type": "date", "field": "expected_close", "offset": "-2d"},
	  "condition": "record.stage != \"won\"",
	  "actions": [{"type": "create_task", "subject": "=\"Closing in 2 days: \" + record.name", "due": "0d"}]}`)
	now := e.clock.Now() // 09:00
	mk := func(name, stage string, closeIn time.Duration) {
		r := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": name, "stage": stage, "owner": e.alice.Id, "expected_close": now.Add(closeIn)})
		// Created at the test clock's time, not the machine's: a record changed after its
		// date trigger was due is skipped.
		if _, err := e.app.DB().Update("deals", dbx.Params{"updated": now.UTC().Format("2006-01-02 15:04:05.000Z")}, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	mk("soon", "lead", 3*24*time.Hour)
	mk("won already", "won", 3*24*time.Hour)
	mk("later", "lead", 30*24*time.Hour)

	tick := func(at time.Time) {
		t.Helper()
		e.clock.now = at
		if err := e.eng.Tick(at); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.Tick(at); err != nil { // repeated ticks queue nothing twice
			t.Fatal(err)
		}
		e.drain(t)
	}
	tick(now)                       // 09:00: the schedule is due
	tick(now.Add(time.Minute))      // 09:01: nothing
	tick(now.Add(25 * time.Hour))   // the next day 10:00: the deal closes in 2 days
	tick(now.Add(24*time.Hour + 0)) // 09:00 next day: schedule again
	if got := e.count(t, "activities", "subject = 'Daily digest'"); got != 2 {
		t.Errorf("daily digests = %d; want 2", got)
	}
	if got := e.count(t, "activities", "subject ~ 'Closing in 2 days'"); got != 1 {
		t.Errorf("closing reminders = %d; want 1 (only the open deal closing soon)", got)
	}
}

func TestDryRunHasNoSideEffects(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, newContactTask)
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada", "source": "website", "owner": e.alice.Id})
	before := e.count(t, "activities", "id != ''")
	runsBefore := len(e.runs(t, ""))
	code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{"name": "new-contact-call", "recordId": c.Id})
	if code != 200 {
		t.Fatalf("test = %d %v", code, rep)
	}
	if rep["conditionMet"] != true || !strings.Contains(jsonOf(rep["steps"]), "Call Ada") {
		t.Errorf("report = %v", rep)
	}
	if e.count(t, "activities", "id != ''") != before || len(e.runs(t, "")) != runsBefore {
		t.Error("the dry run left records behind")
	}
	// An unsaved definition can be tried on values, too; the condition fails here.
	def := jsonRaw(newContactTask)
	code, rep = e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{"definition": def, "record": map[string]any{"full_name": "Bo", "source": "event"}})
	if code != 200 || rep["conditionMet"] != false {
		t.Errorf("test with values = %d %v", code, rep)
	}
	// A record given as values can be updated by the dry run; nothing remains afterwards.
	code, rep = e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{
		"definition": jsonRaw(`{"name": "won", "object": "deals", "trigger": {"type": "stage_changed", "to": "won"},
		  "actions": [{"type": "update_record", "values": {"closed_at": "=now"}}, {"type": "create_task", "subject": "Kickoff", "due": "1d"}]}`),
		"record": map[string]any{"name": "Try", "stage": "won", "owner": e.alice.Id}, "old": map[string]any{"stage": "negotiation"}})
	if code != 200 || rep["error"] != nil || !strings.Contains(jsonOf(rep["steps"]), "closed_at") || !strings.Contains(jsonOf(rep["steps"]), "Kickoff") {
		t.Errorf("dry run on values = %d %v", code, rep)
	}
	if e.count(t, "deals", "name = 'Try'") != 0 || e.count(t, "activities", "subject = 'Kickoff'") != 0 {
		t.Error("the dry run on values left records behind")
	}
	// Sales users may not use the builder's API.
	if code, _ := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.aliceTok, map[string]any{"name": "new-contact-call"}); code != 403 {
		t.Errorf("sales user test = %d; want 403", code)
	}
}

func TestBuilderAPI(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	code, out := e.api(t, http.MethodPost, "/api/relata/workflows/validate", e.mgrTok,
		map[string]any{"definition": jsonRaw(`{"name": "x", "object": "deals", "trigger": {"type": "record_created"}, "condition": "record.amout > 1", "actions": [{"type": "change_stage", "stage": "won"}]}`)})
	if code != 400 || !strings.Contains(jsonOf(out), `"pointer":"/condition"`) || !strings.Contains(jsonOf(out), "amout") {
		t.Errorf("validate = %d %v", code, out)
	}
	code, out = e.api(t, http.MethodPost, "/api/relata/workflows/validate", e.mgrTok, map[string]any{"definition": jsonRaw(newContactTask)})
	if code != 200 || out["valid"] != true {
		t.Errorf("validate good = %d %v", code, out)
	}
	var vars []map[string]any
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/objects/deals/variables", e.mgrTok, nil, &vars); code != 200 || !strings.Contains(jsonOf(vars), "record.amount") {
		t.Errorf("variables = %d %v", code, vars)
	}
	// Manual run of one record.
	e.save(t, `{"name": "manual-note", "enabled": true, "object": "deals", "trigger": {"type": "manual"},
	  "actions": [{"type": "create_task", "subject": "=\"Manual: \" + record.name", "due": "0d", "assignee": "actor"}]}`)
	d := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "M", "owner": e.alice.Id})
	code, out = e.api(t, http.MethodPost, "/api/relata/workflows/manual-note/run", e.mgrTok, map[string]any{"recordId": d.Id})
	if code != 200 || out["run"] == nil {
		t.Fatalf("manual run = %d %v", code, out)
	}
	e.drain(t)
	if got := e.count(t, "activities", "subject = 'Manual: M' && owner = {:m}", map[string]any{"m": e.mgr.Id}); got != 1 {
		t.Errorf("manual run tasks = %d; want 1 assigned to the manager", got)
	}
}
