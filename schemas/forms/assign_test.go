package forms_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// assignEnv serves testdata/assign with a sales team: alice, bob, erin (north), carol
// (south), and a manager who is never a candidate.
type assignEnv struct {
	*env
	users map[string]*core.Record // by first name
}

func newAssignEnv(t *testing.T, formsDir string) *assignEnv {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	c := &clock{now: time.Now().UTC()}
	svc := forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{formsDir}, Now: c.Now})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	srv := schemastest.Serve(t, app)
	e := &assignEnv{env: &env{app: app, reg: reg, svc: svc, srv: srv, clock: c}, users: map[string]*core.Record{}}
	for _, u := range []struct{ name, role, team string }{
		{"alice", "sales", "north"}, {"bob", "sales", "north"}, {"erin", "sales", "north"},
		{"carol", "sales", "south"}, {"dana", "sales", "south"}, {"mia", "manager", "north"},
	} {
		e.users[u.name], _ = schemastest.NewUser(t, app, u.name+"@example.com", u.role, u.team)
	}
	return e
}

// sorted returns the names in the order of their users' ids.
func (e *assignEnv) sorted(names ...string) []string {
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(e.users[a].Id, e.users[b].Id) })
	return names
}

func (e *assignEnv) ownerOf(t *testing.T, email string) string {
	t.Helper()
	rec, err := e.app.FindFirstRecordByData("contacts", "email", email)
	if err != nil {
		t.Fatalf("no contact %s: %v", email, err)
	}
	for name, u := range e.users {
		if u.Id == rec.GetString("owner") {
			return name
		}
	}
	return rec.GetString("owner")
}

// TestFormAssignmentRules: each rule of the form picks from its own candidates.
func TestFormAssignmentRules(t *testing.T) {
	e := newAssignEnv(t, "testdata/assign")
	post := func(email, source string) {
		t.Helper()
		if code, res, _ := e.post(t, "web-leads", map[string]any{"full_name": "X", "email": email, "source": source}); code != 200 {
			t.Fatalf("post %s = %d %+v", email, code, res)
		}
	}
	// Round robin goes through the candidates in id order.
	north, south := e.sorted("alice", "bob", "erin"), e.sorted("carol", "dana")
	for i, c := range []struct{ source, want string }{
		{"website", north[0]}, {"website", north[1]}, {"partner", south[0]}, {"website", north[2]},
		{"partner", south[1]}, {"website", north[0]}, {"event", "dana"}, {"partner", south[0]},
	} {
		email := fmt.Sprintf("lead%d@example.com", i)
		post(email, c.source)
		if got := e.ownerOf(t, email); got != c.want {
			t.Errorf("lead %d (%s) owner = %s; want %s", i, c.source, got, c.want)
		}
	}
	// least_loaded in north: north[0] has 2 contacts, the others 1 each: the lower id of them.
	post("ref@example.com", "referral")
	if got := e.ownerOf(t, "ref@example.com"); got != north[1] {
		t.Errorf("least loaded owner = %s; want %s (1 contact, like %s; %s has 2)", got, north[1], north[2], north[0])
	}
	// A deduplicated submission keeps its owner; the rotation does not advance for it.
	post("lead0@example.com", "website")
	if got := e.ownerOf(t, "lead0@example.com"); got != north[0] {
		t.Errorf("after a dedupe the owner = %s; want %s still", got, north[0])
	}
	post("next@example.com", "website")
	if got := e.ownerOf(t, "next@example.com"); got != north[1] {
		t.Errorf("next website lead owner = %s; want %s (turn 5)", got, north[1])
	}
	// A deduplicated record without an owner gets one.
	rec, _ := e.app.FindFirstRecordByData("contacts", "email", "next@example.com")
	rec.Set("owner", "")
	if err := e.app.Save(rec); err != nil {
		t.Fatal(err)
	}
	post("next@example.com", "website")
	if got := e.ownerOf(t, "next@example.com"); got != north[2] {
		t.Errorf("an unowned duplicate's owner = %s; want %s (the next turn)", got, north[2])
	}
}

// TestFormAssignmentConcurrent sends 100 submissions at once: the round robin spreads them
// evenly over the three north sales users (34/33/33), each turn taken once.
func TestFormAssignmentConcurrent(t *testing.T) {
	const n = 100
	e := newAssignEnv(t, "testdata/assign")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 60 * time.Second}
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			body, _ := json.Marshal(map[string]any{"full_name": "V", "email": fmt.Sprintf("v%03d@example.com", i), "source": "website"})
			res, err := client.Post(e.srv.URL+"/api/relata/forms/web-leads", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("submission %d = %d", i, c)
		}
	}
	var rows []struct {
		Owner string `db:"owner"`
		N     int    `db:"n"`
	}
	if err := e.app.DB().NewQuery("SELECT owner, COUNT(*) AS n FROM contacts GROUP BY owner ORDER BY owner").All(&rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[r.Owner] = r.N
	}
	north := []*core.Record{e.users["alice"], e.users["bob"], e.users["erin"]}
	total := 0
	for _, u := range north {
		if c := got[u.Id]; c != 33 && c != 34 {
			t.Errorf("%s got %d leads; want 33 or 34 of 100", u.Email(), c)
		}
		total += got[u.Id]
	}
	if total != n || len(got) != 3 {
		t.Errorf("owners = %v; want the 100 leads over alice, bob and erin only", got)
	}
	var seq int
	if err := e.app.DB().NewQuery("SELECT seq FROM " + schemas.AssignTurnsCollection + " WHERE key = 'form:web-leads#3'").Row(&seq); err != nil || seq != n {
		t.Errorf("turn counter = %d, %v; want %d", seq, err, n)
	}
}

// TestFormAssignmentChecks: bad rules are refused when the form is loaded, located.
func TestFormAssignmentChecks(t *testing.T) {
	for _, c := range []struct{ name, assign, want string }{
		{"unknown field", `{"rules": [{"when": {"country": ["FR"]}}]}`, `/assign/rules/0/when/country: contacts has no field "country"`},
		{"not an option", `{"rules": [{"when": {"source": ["web"]}}]}`, `/assign/rules/0/when/source/0: "web" is not an option of source`},
		{"multi-value field", `{"rules": [{"when": {"tags": ["x"]}}]}`, `/assign/rules/0/when/tags: field "tags" (tags) cannot select a rule`},
		{"bad strategy", `{"rules": [{"strategy": "random"}]}`, `/assign/rules/0/strategy`},
		{"no rules", `{"rules": []}`, `/assign/rules`},
		{"owner and assign", `{"rules": [{}]}, "owner": "alice@example.com"`, `/assign: set owner or assign, not both`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			def := `{"slug": "f", "title": "F", "object": "contacts", "fields": [{"name": "full_name"}, {"name": "email"}], "assign": ` + c.assign + `}`
			if err := os.WriteFile(dir+"/f.json", []byte(def), 0o644); err != nil {
				t.Fatal(err)
			}
			objs, err := schemas.Load(schemas.Defaults())
			if err != nil {
				t.Fatal(err)
			}
			_, err = forms.Load(os.DirFS(dir), objs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want %q", err, c.want)
			}
		})
	}
}
