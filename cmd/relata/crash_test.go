package main_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const crashWorkflow = `{
  "name": "new-contact",
  "enabled": true,
  "object": "contacts",
  "trigger": {"type": "record_created"},
  "actions": [
    {"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d"},
    {"type": "send_email", "to": "email", "subject": "=\"Welcome \" + record.full_name", "text": "Hello"}
  ]
}`

// TestCrashDuringBurst fires a burst of contact creations, kills the server with SIGKILL in
// the middle, restarts it and checks that every contact that exists got exactly one task and
// one queued email: no trigger lost, no step repeated.
func TestCrashDuringBurst(t *testing.T) {
	t.Parallel()
	crashBurst(t, 400, time.Minute)
}

// TestCrashDuringBurst2000 is the same at 2,000 runs: the kill lands while workers execute
// runs in groups (RunBatch: 32 fresh runs in one transaction), and the runs of a group that
// did not commit are taken again after the restart one by one.
func TestCrashDuringBurst2000(t *testing.T) {
	t.Parallel()
	crashBurst(t, 2000, 3*time.Minute)
}

func crashBurst(t *testing.T, total int64, wait time.Duration) {
	data, wfDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(wfDir, "new-contact.json"), []byte(crashWorkflow), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser: %v\n%s", err, o)
	}
	s := startServer(t, data, "--workflowsDir", wfDir)
	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")

	const workers = 8
	var (
		next, acked atomic.Int64
		wg          sync.WaitGroup
		killOnce    sync.Once
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				if i == total/2 {
					killOnce.Do(func() { _ = s.cmd.Process.Kill() }) // SIGKILL mid-burst
				}
				code := s.apiQuiet(http.MethodPost, "/api/collections/contacts/records", tok,
					map[string]any{"full_name": fmt.Sprintf("Contact %d", i), "email": fmt.Sprintf("c%d@example.com", i)})
				if code == 200 {
					acked.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	_ = s.cmd.Wait()
	if acked.Load() == 0 || acked.Load() >= total {
		t.Fatalf("%d of %d creations acknowledged; the kill did not land mid-burst", acked.Load(), total)
	}

	// The audit entries of the last commits before the kill are still in the journal.
	db, err := sql.Open("sqlite", filepath.Join(data, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	journaled := func() (n int) {
		if err := db.QueryRow(`SELECT count(*) FROM _relata_audit_journal`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Logf("%d audit entries left in the journal by the kill", journaled())

	s = startServer(t, data, "--workflowsDir", wfDir)
	tok, _ = s.login(t, "_superusers", "root@example.com", "root-password-1")
	count := func(collection, filter string) int {
		var l list
		path := "/api/collections/" + collection + "/records?perPage=1&filter=" + urlEscape(filter)
		if code := s.api(t, http.MethodGet, path, tok, nil, &l); code != 200 {
			t.Fatalf("count %s = %d", collection, code)
		}
		return l.TotalItems
	}
	deadline := time.Now().Add(wait)
	for count("workflow_runs", "status != 'succeeded'") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("runs still not done after %s: %d", wait, count("workflow_runs", "status != 'succeeded'"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	contacts := count("contacts", "id != ''")
	if int64(contacts) < acked.Load() {
		t.Fatalf("%d contacts stored but %d creations were acknowledged: acknowledged data was lost", contacts, acked.Load())
	}
	runs, tasks, emails := count("workflow_runs", "id != ''"), count("activities", "subject ~ 'Call Contact'"), count("emails", "id != ''")
	t.Logf("acknowledged %d, stored %d contacts, %d runs, %d tasks, %d emails", acked.Load(), contacts, runs, tasks, emails)
	if runs != contacts || tasks != contacts || emails != contacts {
		t.Errorf("contacts %d, runs %d, tasks %d, emails %d: want all equal", contacts, runs, tasks, emails)
	}
	// The restarted server chained the journal's leftovers by itself (no reader asked), and
	// every stored contact has its create entry in an intact trail.
	for deadline := time.Now().Add(30 * time.Second); journaled() > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d audit entries still in the journal 30 s after the restart", journaled())
		}
	}
	var created int
	if err := db.QueryRow(`SELECT count(*) FROM relata_audit WHERE object = 'contacts' AND action = 'create'`).Scan(&created); err != nil {
		t.Fatal(err)
	}
	if created != contacts {
		t.Errorf("%d create entries in the audit trail for %d contacts", created, contacts)
	}
	if out, err := run(t, "audit", "verify", "--dir", data); err != nil {
		t.Errorf("audit verify after the crash: %v\n%s", err, out)
	}
	// No contact has two tasks: count the contacts that have one.
	var withTask list
	s.api(t, http.MethodGet, "/api/collections/contacts/records?perPage=1&filter="+urlEscape("activities_via_contact.id ?!= ''"), tok, nil, &withTask)
	if withTask.TotalItems != contacts {
		t.Errorf("%d of %d contacts have a task", withTask.TotalItems, contacts)
	}
}
