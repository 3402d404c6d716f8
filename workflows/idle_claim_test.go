package workflows_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/workflows"
)

// holdWriter keeps the app's write connection in a transaction until the returned func is
// called, as a group committing its runs (or a REST create) holds it.
func holdWriter(t *testing.T, app core.App) (release func()) {
	t.Helper()
	held, done, ended := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		ended <- app.RunInTransaction(func(tx core.App) error {
			if _, err := tx.DB().NewQuery("UPDATE workflow_runs SET updated = updated WHERE 0").Execute(); err != nil {
				return err
			}
			close(held)
			<-done
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-ended:
		t.Fatalf("hold the writer: %v", err)
	}
	return func() {
		close(done)
		if err := <-ended; err != nil {
			t.Fatal(err)
		}
	}
}

// A worker woken with nothing to claim (another worker's group took the fresh runs) looks
// with a read and goes back to sleep: it neither waits for the write connection nor takes
// SQLite's write lock from the transaction holding it. A due run is still claimed, once
// the writer lets go.
func TestIdleClaimsDoNotWaitForTheWriter(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	release := holdWriter(t, e.app)
	results := make(chan string, 2)
	go func() {
		n, err := e.eng.RunBatch(workflows.BatchSize)
		ran, err2 := e.eng.RunNext()
		if err != nil || err2 != nil || n != 0 || ran {
			results <- "unexpected"
			return
		}
		results <- "idle"
	}()
	select {
	case r := <-results:
		if r != "idle" {
			t.Fatalf("idle claims: %s", r)
		}
	case <-time.After(20 * time.Second):
		release()
		t.Fatal("idle claims waited for the transaction holding the write connection")
	}
	release()

	e.save(t, `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d"}]}`)
	if code, out := e.api(t, "POST", "/api/collections/contacts/records", e.aliceTok,
		map[string]any{"full_name": "Ann", "email": "ann@example.com"}); code != 200 {
		t.Fatalf("create = %d %v", code, out)
	}
	if n, err := e.eng.RunBatch(workflows.BatchSize); err != nil || n != 1 {
		t.Fatalf("RunBatch = %d, %v; want the 1 due run", n, err)
	}
	if got := e.count(t, "activities", "subject = 'Call Ann'"); got != 1 {
		t.Fatalf("%d tasks; want 1", got)
	}
	if got := e.count(t, workflows.RunsCollection, "status = 'succeeded' && attempts = 1"); got != 1 {
		t.Fatalf("%d runs succeeded at their first attempt; want 1", got)
	}
}

// No statement of the engine or the outbox binds its LIMIT: SQLite re-prepares a statement
// whose LIMIT is a bound parameter at every execution (it plans with the value bound and
// marks the statement stale at the next bind), which made the statement cache useless for
// the claims — about half of SQLite's parsing under the end-to-end benchmark. The limits are
// written into the text (the same text for a given batch size).
func TestNoBoundLimit(t *testing.T) {
	for _, dir := range []string{".", "outbox"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(src), "\n") {
				if strings.Contains(strings.ToUpper(line), "LIMIT {:") {
					t.Errorf("%s:%d: a bound LIMIT (re-prepared at every execution): %s", f, i+1, strings.TrimSpace(line))
				}
			}
		}
	}
}

// A claim that waits for the write connection joins the transaction holding it (group
// commit) and commits with it, instead of committing alone after it: one commit fewer, and
// the claim no longer holds the connection that the next group waits for. Shown by the
// group-commit counters: the held transaction and the claim are two members of one group.
func TestClaimJoinsTheOpenGroup(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	db, ok := e.app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		t.Fatalf("write connection: %T", e.app.NonconcurrentDB())
	}
	e.save(t, `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d"}]}`)
	// The claim must be waiting for the writer when the holder lets go; a slow machine may
	// not get it there in time, so the scenario is tried a few times. A claim that commits
	// alone never shows as a member of the holder's group, whatever the timing.
	for attempt := 1; ; attempt++ {
		name := "Ann" + strconv.Itoa(attempt)
		if code, out := e.api(t, "POST", "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": name, "email": strings.ToLower(name) + "@example.com"}); code != 200 {
			t.Fatalf("create = %d %v", code, out)
		}
		// The contact's audit entry is chained now, not by the chainer during the hold (its
		// transaction would join the group too).
		if err := audit.Flush(e.app); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * audit.ChainDelay)
		release := holdWriter(t, e.app)
		groups0, members0 := db.GroupCommitStats()
		claimed := make(chan error, 1)
		go func() {
			n, err := e.eng.RunBatch(workflows.BatchSize)
			if err == nil && n != 1 {
				err = fmt.Errorf("RunBatch = %d; want the 1 due run", n)
			}
			claimed <- err
		}()
		time.Sleep(time.Duration(attempt) * 300 * time.Millisecond)
		release()
		if err := <-claimed; err != nil {
			t.Fatal(err)
		}
		groups, members := db.GroupCommitStats()
		// The holder's group, then the group that runs the claimed run: 2 commits. The claim
		// shares the first: 3 members. (The task's audit entry is chained ChainDelay after
		// the run's commit, after these counts.)
		joined := groups-groups0 == 2 && members-members0 == 3
		if got := e.count(t, "activities", "subject = 'Call "+name+"'"); got != 1 {
			t.Fatalf("%d tasks for %s; want 1", got, name)
		}
		if joined {
			return
		}
		if attempt == 3 {
			t.Fatalf("the claim did not join the open group: %d commits, %d transactions since the writer was held (want 2 and 3)",
				groups-groups0, members-members0)
		}
	}
}
