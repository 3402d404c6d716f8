package hooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// formEnv runs the object model, the engine (workers stopped: tests drain), the hooks and a
// form "lead" on contacts without spam checks.
type formEnv struct {
	app *core.BaseApp
	eng *workflows.Engine
	srv *httptest.Server
}

func newFormEnv(t *testing.T) *formEnv {
	t.Helper()
	dir := t.TempDir()
	def := `{"slug": "lead", "title": "Lead", "object": "contacts",
	  "fields": [{"name": "full_name"}, {"name": "email", "required": true}, {"name": "message"}],
	  "hidden": {"source": "website"},
	  "consent": {"text": "You may contact me.", "version": "1"},
	  "dedupe": {"by": "email", "update": ["message"]},
	  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`
	if err := os.WriteFile(filepath.Join(dir, "lead.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{dir}})
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)
	return &formEnv{app: app, eng: eng, srv: srv}
}

func (e *formEnv) saveWorkflow(t *testing.T, def string) {
	t.Helper()
	d, err := workflows.Parse("test", []byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Save(e.app, d); err != nil {
		t.Fatalf("save workflow: %v", err)
	}
}

func (e *formEnv) submit(t *testing.T, values map[string]any) (int, map[string]any) {
	t.Helper()
	var out map[string]any
	code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/forms/lead", "", values, &out)
	return code, out
}

func (e *formEnv) count(t *testing.T, collection, filter string) int {
	t.Helper()
	recs, err := e.app.FindRecordsByFilter(collection, filter, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

const leadTaskWorkflow = `{
  "name": "lead-form-task", "enabled": true, "object": "contacts",
  "trigger": {"type": "form_submitted", "form": "lead"},
  "actions": [{"type": "create_task", "subject": "=\"Answer \" + record.full_name", "due": "1d"}]
}`

// TestFormSubmittedTrigger: each accepted submission — new contact or deduplicated — queues
// one run of the form's workflows in the submission's transaction.
func TestFormSubmittedTrigger(t *testing.T) {
	e := newFormEnv(t)
	e.saveWorkflow(t, leadTaskWorkflow)
	code, out := e.submit(t, map[string]any{"full_name": "Ada", "email": "ada@example.com", "_consent": true})
	if code != http.StatusOK {
		t.Fatalf("submit = %d %v", code, out)
	}
	c, err := e.app.FindFirstRecordByData("contacts", "email", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Queued with the submission, before any worker ran.
	if n := e.count(t, workflows.RunsCollection, "workflow_name = 'lead-form-task' && event = 'form' && record_id = '"+c.Id+"'"); n != 1 {
		t.Fatalf("queued form runs = %d; want 1", n)
	}
	if _, err := e.eng.Drain(); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "activities", "contact = '"+c.Id+"' && subject = 'Answer Ada'"); n != 1 {
		t.Errorf("tasks = %d; want 1", n)
	}
	// The same person again: the contact is updated, and the form's workflow runs again.
	if code, out := e.submit(t, map[string]any{"full_name": "Ada", "email": "ADA@example.com", "message": "Me again", "_consent": true}); code != http.StatusOK {
		t.Fatalf("second submit = %d %v", code, out)
	}
	if _, err := e.eng.Drain(); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "activities", "contact = '"+c.Id+"'"); n != 2 {
		t.Errorf("tasks after the second submission = %d; want 2", n)
	}
	if n := e.count(t, "contacts", ""); n != 1 {
		t.Errorf("contacts = %d; want 1", n)
	}
}

// TestFormTriggerSameTransaction: when queuing the trigger fails, the submission is not
// stored at all — contact, consent and submission record roll back together.
func TestFormTriggerSameTransaction(t *testing.T) {
	e := newFormEnv(t)
	// The condition compiles, but fails at run time on a message that is not a number.
	e.saveWorkflow(t, `{
	  "name": "lead-form-broken", "enabled": true, "object": "contacts",
	  "trigger": {"type": "form_submitted", "form": "lead"},
	  "condition": "int(record.message) > 0",
	  "actions": [{"type": "create_task", "subject": "x"}]
	}`)
	code, out := e.submit(t, map[string]any{"full_name": "Ada", "email": "ada@example.com", "message": "not a number", "_consent": true})
	if code != http.StatusInternalServerError {
		t.Fatalf("submit = %d %v; want 500", code, out)
	}
	for _, coll := range []string{"contacts", forms.ConsentsCollection, forms.SubmissionsCollection, workflows.RunsCollection} {
		if n := e.count(t, coll, ""); n != 0 {
			t.Errorf("%s = %d after a failed trigger; want 0", coll, n)
		}
	}
	if code, out := e.submit(t, map[string]any{"full_name": "Ada", "email": "ada@example.com", "message": "42", "_consent": true}); code != http.StatusOK {
		t.Errorf("with a numeric message = %d %v", code, out)
	}
}

// TestConcurrentFormTriggers: 1,000 simultaneous submissions queue exactly one form run each.
func TestConcurrentFormTriggers(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const n = 1000
	e := newFormEnv(t)
	e.saveWorkflow(t, leadTaskWorkflow)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: time.Minute}
	start := time.Now()
	var wg sync.WaitGroup
	failed := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			body, _ := json.Marshal(map[string]any{"full_name": fmt.Sprintf("Lead %d", i), "email": fmt.Sprintf("lead%d@example.com", i), "_consent": true})
			res, err := client.Post(e.srv.URL+"/api/relata/forms/lead", "application/json", bytes.NewReader(body))
			if err != nil {
				failed <- err.Error()
				return
			}
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				failed <- fmt.Sprintf("%d %s", res.StatusCode, data)
			}
		})
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Error(f)
	}
	runs := e.count(t, workflows.RunsCollection, "workflow_name = 'lead-form-task'")
	contacts := e.count(t, "contacts", "")
	subs := e.count(t, forms.SubmissionsCollection, "")
	t.Logf("%d submissions in %v: %d contacts, %d form_submissions, %d queued form runs", n, time.Since(start).Round(time.Millisecond), contacts, subs, runs)
	if runs != n || contacts != n || subs != n {
		t.Errorf("runs %d, contacts %d, submissions %d; want %d each", runs, contacts, subs, n)
	}
}

// TestFormWakesWorkersWhenItQueues: a submission whose form a workflow listens to wakes the
// workers once its transaction commits (the run is done long before their one-minute poll);
// a form no workflow listens to queues nothing, and ListensForm says which is which — the
// hook skips reading the record and waking the workers for those.
func TestFormWakesWorkersWhenItQueues(t *testing.T) {
	dir := t.TempDir()
	def := `{"slug": "lead", "title": "Lead", "object": "contacts",
	  "fields": [{"name": "full_name"}, {"name": "email", "required": true}],
	  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`
	if err := os.WriteFile(filepath.Join(dir, "lead.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute, PollInterval: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{dir}})
	srv := schemastest.Serve(t, app)
	t.Cleanup(eng.Stop)
	e := &formEnv{app: app, eng: eng, srv: srv}

	if eng.ListensForm("lead", "contacts") {
		t.Fatal("ListensForm(lead) = true before any workflow")
	}
	if code, out := e.submit(t, map[string]any{"full_name": "Bo", "email": "bo@example.com"}); code != http.StatusOK {
		t.Fatalf("submit = %d %v", code, out)
	}
	if n := e.count(t, workflows.RunsCollection, ""); n != 0 {
		t.Fatalf("runs after a submission no workflow listens to = %d; want 0", n)
	}

	e.saveWorkflow(t, leadTaskWorkflow)
	if !eng.ListensForm("lead", "contacts") || eng.ListensForm("other", "contacts") || eng.ListensForm("lead", "companies") {
		t.Fatalf("ListensForm: lead/contacts %v, other/contacts %v, lead/companies %v; want true, false, false",
			eng.ListensForm("lead", "contacts"), eng.ListensForm("other", "contacts"), eng.ListensForm("lead", "companies"))
	}
	if code, out := e.submit(t, map[string]any{"full_name": "Cy", "email": "cy@example.com"}); code != http.StatusOK {
		t.Fatalf("submit = %d %v", code, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.count(t, "activities", "subject = 'Answer Cy'") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the form's workflow did not run within 20 s: the submission did not wake the workers (they poll once a minute)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFormTriggerReadsNothingAgain: a workflow listening to the form is queued with the
// record the submission saved in its transaction, which is not read again by id (created,
// then updated: both runs see the submitted values).
func TestFormTriggerReadsNothingAgain(t *testing.T) {
	e := newFormEnv(t)
	e.saveWorkflow(t, leadTaskWorkflow)
	stmts := schemastest.LogStatements(t, e.app)
	for i, email := range []string{"ada@example.com", "ADA@example.com"} {
		if code, out := e.submit(t, map[string]any{"full_name": "Ada", "email": email, "message": fmt.Sprint("visit ", i), "_consent": true}); code != http.StatusOK {
			t.Fatalf("submit %d = %d %v", i, code, out)
		}
	}
	for _, s := range strings.Split(stmts(), "\n") {
		if strings.Contains(s, "`contacts`.`id`=") {
			t.Errorf("the submitted contact was read again: %s", s)
		}
	}
	c, err := e.app.FindFirstRecordByData("contacts", "email", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, workflows.RunsCollection, "workflow_name = 'lead-form-task' && event = 'form' && record_id = '"+c.Id+"'"); n != 2 {
		t.Fatalf("queued form runs = %d; want 2", n)
	}
	if _, err := e.eng.Drain(); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "activities", "contact = '"+c.Id+"' && subject = 'Answer Ada'"); n != 2 {
		t.Errorf("tasks = %d; want 2", n)
	}
}
