package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const forEachCrashWorkflow = `{
  "name": "company-moved",
  "enabled": true,
  "object": "companies",
  "trigger": {"type": "field_changed", "field": "industry"},
  "actions": [
    {"type": "for_each", "over": "contacts.company", "max": 2000, "actions": [
      {"type": "create_task", "subject": "=\"Call \" + item.full_name + \" about \" + record.name"},
      {"type": "send_email", "to": "item", "subject": "=record.name + \" moved\"", "text": "Hello"}
    ]}
  ]
}`

// TestCrashDuringForEach kills the server with SIGKILL in the middle of a for_each over 1,000
// contacts, restarts it, and checks that each contact got exactly one task and one email.
func TestCrashDuringForEach(t *testing.T) {
	t.Parallel()
	data, seed, wfDir := t.TempDir(), t.TempDir(), t.TempDir()
	const total = 1000
	writeJSON := func(name string, v any) {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(seed, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON("companies.json", []map[string]any{{"id": "cmp000000000001", "name": "Acme"}})
	contacts := make([]map[string]any, total)
	for i := range contacts {
		contacts[i] = map[string]any{"id": fmt.Sprintf("con%012d", i), "full_name": fmt.Sprintf("Person %d", i),
			"email": fmt.Sprintf("p%d@example.com", i), "company": "cmp000000000001"}
	}
	writeJSON("contacts.json", contacts)
	if err := os.WriteFile(filepath.Join(wfDir, "company-moved.json"), []byte(forEachCrashWorkflow), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser: %v\n%s", err, o)
	}
	s := startServer(t, data, "--seed", seed, "--workflowsDir", wfDir)
	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
	count := func(s *server, tok, collection, filter string) int {
		var l list
		path := "/api/collections/" + collection + "/records?perPage=1&filter=" + urlEscape(filter)
		if code := s.api(t, http.MethodGet, path, tok, nil, &l); code != 200 {
			t.Fatalf("count %s = %d", collection, code)
		}
		return l.TotalItems
	}
	if n := count(s, tok, "contacts", "company = 'cmp000000000001'"); n != total {
		t.Fatalf("seeded %d contacts; want %d", n, total)
	}
	if code := s.api(t, http.MethodPatch, "/api/collections/companies/records/cmp000000000001", tok, map[string]any{"industry": "software"}, nil); code != 200 {
		t.Fatalf("update company = %d", code)
	}
	// Kill when part of the items are done.
	deadline := time.Now().Add(120 * time.Second)
	for {
		n := count(s, tok, "workflow_steps", "path ~ '.item:' && status = 'succeeded'")
		if n >= total/2 {
			break
		}
		if count(s, tok, "workflow_runs", "status = 'succeeded'") > 0 {
			t.Fatal("the run finished before the kill")
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d item steps after two minutes", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.cmd.Process.Kill() // SIGKILL mid-loop
	_ = s.cmd.Wait()

	s = startServer(t, data, "--workflowsDir", wfDir)
	tok, _ = s.login(t, "_superusers", "root@example.com", "root-password-1")
	before := count(s, tok, "activities", "id != ''")
	if before == 0 || before >= total {
		t.Fatalf("%d tasks at the kill; want some but not all", before)
	}
	deadline = time.Now().Add(180 * time.Second)
	for count(s, tok, "workflow_runs", "status = 'succeeded'") != 1 {
		if time.Now().After(deadline) || count(s, tok, "workflow_runs", "status = 'failed' || status = 'dead'") > 0 {
			var runs struct {
				Items []map[string]any `json:"items"`
			}
			s.api(t, http.MethodGet, "/api/collections/workflow_runs/records", tok, nil, &runs)
			t.Fatalf("the run did not succeed after the restart: %v", runs.Items)
		}
		time.Sleep(200 * time.Millisecond)
	}
	tasks, emails := count(s, tok, "activities", "id != ''"), count(s, tok, "emails", "id != ''")
	var withTask list
	s.api(t, http.MethodGet, "/api/collections/contacts/records?perPage=1&filter="+urlEscape("activities_via_contact.id ?!= ''"), tok, nil, &withTask)
	t.Logf("%d tasks at the kill; after the restart %d tasks, %d emails, %d contacts with a task", before, tasks, emails, withTask.TotalItems)
	if tasks != total || emails != total || withTask.TotalItems != total {
		t.Errorf("tasks %d, emails %d, contacts with a task %d: want %d each (each item once)", tasks, emails, withTask.TotalItems, total)
	}
}
