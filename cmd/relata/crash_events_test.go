package main_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crashSecondWorkflow is a second workflow on contacts created: with crashWorkflow, every
// create queues two runs, stored as one workflow event that the engine turns into the runs
// after the commit (workflows/events.go).
const crashSecondWorkflow = `{
  "name": "welcome-pack",
  "enabled": true,
  "object": "contacts",
  "trigger": {"type": "record_created"},
  "condition": "record.email != \"\"",
  "actions": [{"type": "create_task", "subject": "=\"Send pack to \" + record.full_name", "due": "2d"}]
}`

// TestCrashDuringEventBurst is TestCrashDuringBurst with two workflows on contacts, so every
// create stores a workflow event: SIGKILL mid-burst lands between events committed and their
// runs written, and while runs execute. After the restart every stored contact has exactly
// its two runs, two tasks and one email, and no event is left.
func TestCrashDuringEventBurst(t *testing.T) {
	t.Parallel()
	const total = 400
	data, wfDir := t.TempDir(), t.TempDir()
	for name, def := range map[string]string{"new-contact.json": crashWorkflow, "welcome-pack.json": crashSecondWorkflow} {
		if err := os.WriteFile(filepath.Join(wfDir, name), []byte(def), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser: %v\n%s", err, o)
	}
	s := startServer(t, data, "--workflowsDir", wfDir)
	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
	var (
		next, acked atomic.Int64
		wg          sync.WaitGroup
		killOnce    sync.Once
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				if i == total/2 {
					killOnce.Do(func() { _ = s.cmd.Process.Kill() })
				}
				if s.apiQuiet(http.MethodPost, "/api/collections/contacts/records", tok,
					map[string]any{"full_name": fmt.Sprintf("Contact %d", i), "email": fmt.Sprintf("c%d@example.com", i)}) == 200 {
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
	deadline := time.Now().Add(2 * time.Minute)
	for count("workflow_events", "id != ''") > 0 || count("workflow_runs", "status != 'succeeded'") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 2m: %d events, %d runs not done", count("workflow_events", "id != ''"), count("workflow_runs", "status != 'succeeded'"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	contacts := count("contacts", "id != ''")
	if int64(contacts) < acked.Load() {
		t.Fatalf("%d contacts stored but %d creations were acknowledged", contacts, acked.Load())
	}
	runs := count("workflow_runs", "id != ''")
	calls, packs := count("activities", "subject ~ 'Call Contact'"), count("activities", "subject ~ 'Send pack to Contact'")
	emails := count("emails", "id != ''")
	t.Logf("acknowledged %d, stored %d contacts, %d runs, %d + %d tasks, %d emails", acked.Load(), contacts, runs, calls, packs, emails)
	if runs != 2*contacts || calls != contacts || packs != contacts || emails != contacts {
		t.Errorf("contacts %d: runs %d (want %d), call tasks %d, pack tasks %d, emails %d: want one each", contacts, runs, 2*contacts, calls, packs, emails)
	}
}
