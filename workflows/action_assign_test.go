package workflows_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// reopenEngine simulates a restart: a second app on the same data directory, with a fresh
// object model, engine and hooks that share nothing in memory with e's.
func reopenEngine(t *testing.T, e *env) (*core.BaseApp, *workflows.Engine) {
	t.Helper()
	app := schemastest.OpenApp(t, e.app.DataDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, Now: e.clock.Now})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	if err := eng.Load(); err != nil {
		t.Fatal(err)
	}
	return app, eng
}

func sortedIDs(users ...*core.Record) []string {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.Id
	}
	slices.Sort(ids)
	return ids
}

func ownerOf(t *testing.T, app core.App, object, id string) string {
	t.Helper()
	r, err := app.FindRecordById(object, id)
	if err != nil {
		t.Fatal(err)
	}
	return r.GetString("owner")
}

func TestAssignOwnerRoundRobin(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	carol, _ := schemastest.NewUser(t, e.app, "carol@example.com", "sales", "south")
	want := sortedIDs(e.alice, e.bob, carol) // the manager is not a candidate
	e.save(t, `{"name": "rr", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "assign_owner"}]}`)

	for i := 0; i < 3; i++ {
		c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Contact " + string(rune('A'+i))})
		e.drain(t)
		if got := ownerOf(t, e.app, "contacts", c.Id); got != want[i] {
			t.Errorf("contact %d owner = %s; want %s (turn %d of %v)", i+1, got, want[i], i+1, want)
		}
	}

	// After a restart the rotation goes on where it stopped: the counter is in the database.
	app2, eng2 := reopenEngine(t, e)
	c := schemastest.MustCreate(t, app2, "contacts", map[string]any{"full_name": "Contact D"})
	if n, err := eng2.Drain(); err != nil || n != 1 {
		t.Fatalf("drain after restart = %d, %v", n, err)
	}
	if got := ownerOf(t, app2, "contacts", c.Id); got != want[0] {
		t.Errorf("contact 4 owner = %s; want %s (the rotation wrapped around)", got, want[0])
	}
	run, err := app2.FindFirstRecordByFilter(workflows.RunsCollection, "record_id = {:id}", map[string]any{"id": c.Id})
	if err != nil {
		t.Fatal(err)
	}
	step, err := app2.FindFirstRecordByFilter(workflows.StepsCollection, "run = {:run}", map[string]any{"run": run.Id})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.Unmarshal([]byte(step.GetString("output")), &out)
	u, _ := app2.FindRecordById("users", want[0])
	if out["owner"] != want[0] || out["name"] != u.GetString("name") || out["email"] != nil || out["strategy"] != "round_robin" || out["seq"] != 4.0 {
		t.Errorf("output = %v", out)
	}
}

func TestAssignOwnerLeastLoaded(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	// Alice owns two open deals; Bob one open deal and three closed ones, which do not count.
	for _, d := range []struct{ owner, stage string }{
		{e.alice.Id, "lead"}, {e.alice.Id, "proposal"},
		{e.bob.Id, "qualified"}, {e.bob.Id, "won"}, {e.bob.Id, "lost"}, {e.bob.Id, "won"},
	} {
		schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Old", "stage": d.stage, "owner": d.owner})
	}
	e.save(t, `{"name": "ll", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [{"type": "assign_owner", "strategy": "least_loaded", "role": "sales"}]}`)

	first := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "New 1", "stage": "lead"})
	e.drain(t)
	if got := ownerOf(t, e.app, "deals", first.Id); got != e.bob.Id {
		t.Fatalf("owner = %s; want bob %s (1 open deal against 2)", got, e.bob.Id)
	}
	// Now both have two open deals: the tie goes to the lower id.
	second := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "New 2", "stage": "lead"})
	e.drain(t)
	if got, want := ownerOf(t, e.app, "deals", second.Id), sortedIDs(e.alice, e.bob)[0]; got != want {
		t.Errorf("owner on a tie = %s; want the lower id %s", got, want)
	}
	runs := e.runs(t, "")
	var out map[string]any
	_ = json.Unmarshal([]byte(e.step(t, runs[0].Id, "0").GetString("output")), &out)
	if out["strategy"] != "least_loaded" || out["load"] != 1.0 || out["name"] != "bob@example.com" {
		t.Errorf("output = %v", out)
	}
}

func TestAssignOwnerTeamAndNoCandidates(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	carol, _ := schemastest.NewUser(t, e.app, "carol@example.com", "sales", "south")
	e.save(t, `{"name": "south", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "assign_owner", "team": "south"}]}`)
	e.save(t, `{"name": "nobody", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "assign_owner", "role": "admin", "field": "owner"}]}`)
	var contacts []*core.Record
	for _, name := range []string{"Ada", "Bo"} {
		contacts = append(contacts, schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": name}))
		e.drain(t)
	}
	for _, c := range contacts {
		if got := ownerOf(t, e.app, "contacts", c.Id); got != carol.Id {
			t.Errorf("%s owner = %s; want carol, the only sales user in team south", c.GetString("full_name"), got)
		}
	}
	for _, r := range e.runs(t, "workflow_name = 'nobody'") {
		if r.GetString("status") != workflows.StatusFailed || !strings.Contains(r.GetString("error"), "no user to assign: nobody has role admin") {
			t.Errorf("run = %s %q; want failed for want of an admin", r.GetString("status"), r.GetString("error"))
		}
	}
}

func TestAssignOwnerDefinitionChecks(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	tests := []struct {
		name, def string
		want      []string
	}{
		{"not an owner field", `{"name": "a", "object": "contacts", "trigger": {"type": "record_created"},
			"actions": [{"type": "assign_owner", "field": "full_name"}]}`, []string{"/actions/0/field", "not a single owner field"}},
		{"unknown field", `{"name": "a", "object": "contacts", "trigger": {"type": "record_created"},
			"actions": [{"type": "assign_owner", "field": "ownr"}]}`, []string{"/actions/0/field", `no field "ownr"`}},
		{"no object", `{"name": "a", "trigger": {"type": "schedule", "cron": "0 9 * * *"},
			"actions": [{"type": "assign_owner"}]}`, []string{"/actions/0", "needs a workflow about an object"}},
		{"bad strategy", `{"name": "a", "object": "contacts", "trigger": {"type": "record_created"},
			"actions": [{"type": "assign_owner", "strategy": "random"}]}`, []string{"/actions/0/strategy"}},
		{"flat rule on an unknown field", `{"name": "a", "object": "contacts", "trigger": {"type": "record_created"},
			"actions": [{"type": "assign_owner", "when": {"country": ["FR"]}}]}`, []string{"/actions/0/when/country", `contacts has no field "country"`}},
		{"rule value not an option", `{"name": "a", "object": "contacts", "trigger": {"type": "record_created"},
			"actions": [{"type": "assign_owner", "rules": [{"team": "north"}, {"when": {"source": ["web"]}}]}]}`, []string{"/actions/0/rules/1/when/source/0", `"web" is not an option`}},
		{"rules and a flat rule", `{"name": "a", "object": "contacts", "trigger": {"type": "record_created"},
			"actions": [{"type": "assign_owner", "team": "north", "rules": [{"team": "south"}]}]}`, []string{"/actions/0/rules", "not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := workflows.Parse("a.json", []byte(tt.def))
			if err == nil {
				_, err = e.eng.Compile("a.json", d)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestAssignOwnerDryRunChangesNothing(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "rr", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "assign_owner", "team": "north"}]}`)
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada"})
	e.drain(t)
	first := ownerOf(t, e.app, "contacts", c.Id)
	w, _ := e.eng.Workflow("rr")
	rep, err := e.eng.DryRun(w, c, nil, nil)
	if err != nil || rep.Error != "" || len(rep.Steps) != 1 {
		t.Fatalf("dry run = %s, %v", jsonOf(rep), err)
	}
	// The dry run previews the next turn (the other north user) and rolls it back.
	want := sortedIDs(e.alice, e.bob)
	next := want[0]
	if first == want[0] {
		next = want[1]
	}
	if got := jsonOf(rep.Steps[0].Output); !strings.Contains(got, next) {
		t.Errorf("dry run output = %s; want the next turn %s", got, next)
	}
	if got := ownerOf(t, e.app, "contacts", c.Id); got != first {
		t.Errorf("the dry run changed the owner to %s", got)
	}
}

// TestAssignOwnerRules: the workflow action applies the same rules as forms: by field, per
// team, or to listed users; a record no rule matches keeps no owner.
func TestAssignOwnerRules(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	carol, _ := schemastest.NewUser(t, e.app, "carol@example.com", "sales", "south")
	e.save(t, `{"name": "territories", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "assign_owner", "rules": [
	    {"when": {"source": ["partner", "event"]}, "team": "south"},
	    {"when": {"source": ["referral"]}, "users": ["bob@example.com"]},
	    {"when": {"source": ["website"]}, "team": "north", "strategy": "least_loaded"}
	  ]}]}`)
	for _, c := range []struct{ source, want string }{
		{"partner", carol.Id}, {"event", carol.Id}, {"referral", e.bob.Id},
		{"website", e.alice.Id}, // least loaded: bob owns the referral lead, alice nothing
		{"cold_outreach", ""},
	} {
		rec := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "C " + c.source, "source": c.source})
		e.drain(t)
		if got := ownerOf(t, e.app, "contacts", rec.Id); got != c.want {
			t.Errorf("%s lead owner = %q; want %q", c.source, got, c.want)
		}
	}
}
