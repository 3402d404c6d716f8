package schemas_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

func TestAssignmentCheck(t *testing.T) {
	contacts := find(defaults(t), "contacts")
	for _, c := range []struct {
		name, rules string
		want        []string // pointer: message substring; none = valid
	}{
		{"defaults", `[{}]`, nil},
		{"territory and fallback", `[{"when": {"source": ["partner", "event"]}, "team": "south"}, {"strategy": "least_loaded"}]`, nil},
		{"no rules", `[]`, []string{"/rules: at least one rule"}},
		{"unknown field", `[{"when": {"country": ["FR"]}}]`, []string{`/rules/0/when/country: contacts has no field "country"`}},
		{"not an option", `[{}, {"when": {"source": ["web", "event"]}}]`, []string{`/rules/1/when/source/0: "web" is not an option`}},
		{"no values", `[{"when": {"source": []}}]`, []string{"/rules/0/when/source: list at least one value"}},
		{"multi-value field", `[{"when": {"tags": ["vip"]}}]`, []string{`/rules/0/when/tags: field "tags" (tags) cannot select`}},
		{"bad strategy and role", `[{"strategy": "random", "role": "boss"}]`, []string{"/rules/0/strategy:", `/rules/0/role: "boss" is not a role`}},
		{"bad user", `[{"users": ["bob"]}]`, []string{`/rules/0/users/0: "bob" is not the email`}},
		{"escaped pointer", `[{"when": {"a/b": ["x"]}}]`, []string{`/rules/0/when/a~1b:`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var a schemas.Assignment
			if err := json.Unmarshal([]byte(`{"rules": `+c.rules+`}`), &a); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range a.Check(contacts) {
				got = append(got, p.Pointer+": "+p.Message)
			}
			if len(got) != len(c.want) {
				t.Fatalf("problems = %q; want %q", got, c.want)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], w[:strings.Index(w, ":")+1]) || !strings.Contains(got[i], w[strings.Index(w, ":")+1:]) {
					t.Errorf("problem %d = %q; want %q", i, got[i], w)
				}
			}
		})
	}
	companies := find(defaults(t), "companies")
	companies.Fields = slices.DeleteFunc(companies.Fields, func(f *schemas.Field) bool { return f.Type == schemas.TypeOwner })
	a := schemas.Assignment{Rules: []*schemas.AssignRule{{}}}
	if ps := a.Check(companies); len(ps) != 1 || !strings.Contains(ps[0].Message, "no owner field") {
		t.Errorf("an object without owner: %v", ps)
	}
}

// TestNextTurnConcurrent: 100 goroutines, each in its own transaction, take 100 distinct
// turns of one counter; another key has its own.
func TestNextTurnConcurrent(t *testing.T) {
	app := openApp(t, t.TempDir())
	const n = 100
	seqs := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := app.RunInTransaction(func(tx core.App) error {
				var err error
				seqs[i], err = schemas.NextTurn(tx, "k")
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("turns = %v; want 1..%d once each", seqs, n)
		}
	}
	if s, err := schemas.NextTurn(app, "other"); err != nil || s != 1 {
		t.Errorf("a new key starts at %d, %v; want 1", s, err)
	}
	// A rolled-back transaction gives its turn back.
	_ = app.RunInTransaction(func(tx core.App) error {
		_, _ = schemas.NextTurn(tx, "k")
		return errRollback
	})
	if s, _ := schemas.NextTurn(app, "k"); s != n+1 {
		t.Errorf("after a rollback the turn is %d; want %d", s, n+1)
	}
}

type rollback struct{}

func (rollback) Error() string { return "rollback" }

var errRollback = rollback{}

// TestAssign: the first matching rule picks; no match leaves the record alone; a rule
// without candidates is an error naming who is missing.
func TestAssign(t *testing.T) {
	app := openApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	carol, _ := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	contacts, _ := reg.Object("contacts")
	var a schemas.Assignment
	_ = json.Unmarshal([]byte(`{"rules": [
		{"when": {"source": ["partner"]}, "team": "south"},
		{"when": {"source": ["event"]}, "role": "admin"},
		{"when": {"source": ["website"]}, "users": ["alice@example.com"]}]}`), &a)
	if ps := a.Check(contacts); len(ps) > 0 {
		t.Fatal(ps)
	}
	coll, _ := app.FindCollectionByNameOrId("contacts")
	for _, c := range []struct {
		source, want, err string
	}{
		{"partner", carol.Id, ""},
		{"website", alice.Id, ""},
		{"referral", "", ""},
		{"event", "", "assignment rule 2: no user to assign: nobody has role admin"},
	} {
		rec := core.NewRecord(coll)
		rec.Set("source", c.source)
		got, err := a.Assign(app, contacts, "test", rec)
		switch {
		case c.err != "":
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: err = %v; want %q", c.source, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.source, err)
		case c.want == "" && got != nil:
			t.Errorf("%s: assigned %s; want no rule to match", c.source, got.UserID)
		case c.want != "" && (got == nil || rec.GetString("owner") != c.want):
			t.Errorf("%s: owner = %q; want %q", c.source, rec.GetString("owner"), c.want)
		}
	}
}

// FuzzAssignment: any JSON either decodes into rules whose check never panics and locates
// every problem under /rules, or fails to decode.
//
//	go test -run '^$' -fuzz '^FuzzAssignment$' -fuzztime 1m ./schemas/
func FuzzAssignment(f *testing.F) {
	for _, s := range []string{`{"rules": [{}]}`, `{"rules": [{"when": {"source": ["partner"]}, "team": "south"}]}`,
		`{"rules": [null, {"when": {"tags": []}, "users": ["x"]}]}`, `{"rules": [{"strategy": "least_loaded", "role": "admin"}]}`} {
		f.Add(s)
	}
	contacts := find(defaults(f), "contacts")
	f.Fuzz(func(t *testing.T, in string) {
		var a schemas.Assignment
		if json.Unmarshal([]byte(in), &a) != nil {
			return
		}
		for _, p := range a.Check(contacts) {
			if !strings.HasPrefix(p.Pointer, "/rules") || p.Message == "" {
				t.Fatalf("unlocated problem %+v", p)
			}
		}
		rec := core.NewRecord(core.NewBaseCollection("contacts"))
		for _, r := range a.Rules {
			if r != nil {
				r.Matches(rec)
			}
		}
	})
}
