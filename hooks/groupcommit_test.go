package hooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
)

// TestConcurrentCreatesUnderGroupCommit sends pairs of REST creates at once, the two of each
// pair with the same new email (unique on contacts), so that their transactions queue for the
// writer together and share commits (schemastest opens apps with group commit, as `relata
// serve` runs). Whichever of a pair loses — at validation, or at its insert inside a shared
// transaction — must leave nothing behind, and the winner everything: its record, and one
// audit entry in an intact chain.
func TestConcurrentCreatesUnderGroupCommit(t *testing.T) {
	e := newEnv(t)
	user, tok := schemastest.NewUser(t, e.app, "rep@example.com", "sales", "north")
	db, ok := e.app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		t.Fatalf("writer is %T", e.app.NonconcurrentDB())
	}
	groups0, members0 := db.GroupCommitStats()

	const pairs = 150
	type result struct {
		status int
		id     string
		err    error
	}
	results := make([][2]result, pairs)
	client := e.srv.Client()
	create := func(k, side int) result {
		body, _ := json.Marshal(map[string]any{
			"full_name": fmt.Sprintf("Pair %d side %d", k, side), "email": fmt.Sprintf("pair-%d@example.com", k),
			"owner": user.Id, "lifecycle_stage": "lead",
		})
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/collections/contacts/records", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", tok)
		res, err := client.Do(req)
		if err != nil {
			return result{err: err}
		}
		defer res.Body.Close()
		var out struct {
			ID string `json:"id"`
		}
		_ = json.NewDecoder(res.Body).Decode(&out)
		return result{status: res.StatusCode, id: out.ID}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	sem := make(chan struct{}, 16)
	for k := 0; k < pairs; k++ {
		for side := 0; side < 2; side++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				sem <- struct{}{}
				defer func() { <-sem }()
				results[k][side] = create(k, side)
			}()
		}
	}
	close(start)
	wg.Wait()

	created := map[string]bool{}
	for k, r := range results {
		wins := 0
		for _, x := range r {
			switch {
			case x.err != nil:
				t.Fatalf("pair %d: %v", k, x.err)
			case x.status == http.StatusOK:
				wins++
				created[x.id] = true
			case x.status != http.StatusBadRequest:
				t.Errorf("pair %d: status %d, want 200 or 400", k, x.status)
			}
		}
		if wins != 1 {
			t.Errorf("pair %d: %d creates succeeded, want 1 (statuses %d, %d)", k, wins, r[0].status, r[1].status)
		}
	}

	// The contacts stored and the contacts whose creation was audited are exactly the winners.
	expectCreated(t, e, "contacts stored", "SELECT id FROM contacts WHERE email LIKE 'pair-%'", created)
	rep, err := audit.Verify(e.app)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("audit chain broken: %+v", rep.Problems)
	}
	expectCreated(t, e, "audit entries of contact creates",
		"SELECT record FROM "+audit.Collection+" WHERE object = 'contacts' AND action = 'create'", created)

	groups, members := db.GroupCommitStats()
	groups, members = groups-groups0, members-members0
	t.Logf("%d write transactions in %d commits", members, groups)
	if groups >= members {
		t.Errorf("%d commits for %d transactions: the creates never shared a commit", groups, members)
	}
}

// expectCreated checks that query's ids are exactly the keys of created.
func expectCreated(t *testing.T, e *env, what, query string, created map[string]bool) {
	t.Helper()
	var ids []string
	if err := e.app.DB().NewQuery(query).Column(&ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(created) {
		t.Errorf("%s: %d, want %d", what, len(ids), len(created))
	}
	for _, id := range ids {
		if !created[id] {
			t.Errorf("%s: %s, whose create was not answered 200", what, id)
		}
	}
}
