package workflows_test

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows"
)

// TestExampleWorkflows runs the automations of examples/sales on its example data.
func TestExampleWorkflows(t *testing.T) {
	e := newBareEnv(t, workflows.Config{})
	e.clock.now = time.Now().UTC()
	if _, err := schemas.Seed(e.app, e.reg.Objects(), os.DirFS("../examples/sales/seed")); err != nil {
		t.Fatal(err)
	}
	n, err := e.eng.ImportDir("../examples/sales/workflows")
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if n != 7 {
		t.Fatalf("imported %d workflows; want 7", n)
	}
	alice, err := e.app.FindAuthRecordByEmail("users", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	aliceTok, _ := alice.NewAuthToken()
	tasks := func(filter string) int { return e.count(t, "activities", filter) }
	defer func() {
		for _, r := range e.runs(t, "status != 'succeeded'") {
			t.Errorf("run %s of %s: %s %s", r.Id, r.GetString("workflow_name"), r.GetString("status"), r.GetString("error"))
		}
	}()

	t.Run("web lead: call task and welcome email", func(t *testing.T) {
		code, c := e.api(t, http.MethodPost, "/api/collections/contacts/records", aliceTok,
			map[string]any{"full_name": "Grace Hopper", "email": "grace@navy.example", "source": "website", "message": "Demo please"})
		if code != 200 {
			t.Fatalf("create = %d %v", code, c)
		}
		e.drain(t)
		if got := tasks("contact = '" + c["id"].(string) + "' && type = 'call' && owner = '" + alice.Id + "' && subject = 'Call new web lead Grace Hopper'"); got != 1 {
			t.Errorf("call tasks = %d; want 1", got)
		}
		if got := e.count(t, "emails", "record_id = '"+c["id"].(string)+"' && subject = 'Welcome, Grace Hopper'"); got != 1 {
			t.Errorf("welcome emails = %d; want 1", got)
		}
	})

	t.Run("deal to proposal: send-proposal task", func(t *testing.T) {
		deal, err := e.app.FindFirstRecordByFilter("deals", "stage = 'qualified' && owner = {:o}", map[string]any{"o": alice.Id})
		if err != nil {
			t.Fatal(err)
		}
		if code, out := e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal.Id, aliceTok, map[string]any{"stage": "proposal"}); code != 200 {
			t.Fatalf("move = %d %v", code, out)
		}
		e.drain(t)
		if got := tasks("deal = '" + deal.Id + "' && subject = 'Send proposal for " + deal.GetString("name") + "'"); got != 1 {
			t.Errorf("proposal tasks = %d; want 1", got)
		}
	})

	t.Run("deal won: kickoff task, closed date", func(t *testing.T) {
		deal, err := e.app.FindFirstRecordByFilter("deals", "stage = 'negotiation' && owner = {:o}", map[string]any{"o": alice.Id})
		if err != nil {
			t.Fatal(err)
		}
		e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal.Id, aliceTok, map[string]any{"stage": "won"})
		e.drain(t)
		if got := tasks("deal = '" + deal.Id + "' && subject ~ 'Schedule the kickoff'"); got != 1 {
			t.Errorf("kickoff tasks = %d; want 1", got)
		}
		d, _ := e.app.FindRecordById("deals", deal.Id)
		if d.GetDateTime("closed_at").IsZero() || d.GetDateTime("contract_end").IsZero() {
			t.Errorf("won deal not closed: %v", d.FieldsData())
		}
	})

	t.Run("contract renewal 30 days before the end", func(t *testing.T) {
		// Five days on, contracts ending within 35 days are within 30 days of their end.
		start := e.clock.Now()
		e.clock.Add(5 * 24 * time.Hour)
		want := e.count(t, "deals", "stage = 'won' && contract_end != '' && contract_end <= {:d}", map[string]any{"d": start.AddDate(0, 0, 35).Format("2006-01-02 15:04:05.000Z")})
		before := e.count(t, "deals", "name ~ 'Renewal:'")
		if err := e.eng.Tick(e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		renewals := e.count(t, "deals", "name ~ 'Renewal:' && pipeline = 'renewals' && stage = 'renewal_due'") - before
		if renewals == 0 || renewals != want {
			t.Fatalf("opened %d renewal deals; want %d", renewals, want)
		}
		if got := tasks("subject ~ 'Start the renewal of'"); got != renewals {
			t.Errorf("renewal tasks = %d; want %d", got, renewals)
		}
	})
	t.Run("idle deals: reminder after 14 quiet days", func(t *testing.T) {
		open := e.count(t, "deals", "stage != 'won' && stage != 'lost' && stage != 'renewed' && stage != 'churned'")
		// The example data has deals that were idle already when seeded (no edit, no
		// activity for over 14 days): the ticks of the tests above reminded them.
		already := len(e.runs(t, "workflow_name = 'idle-deal-reminder'"))
		if already == 0 {
			t.Fatal("no reminder for the idle deals of the example data")
		}
		// Relative to seeding: the clock is 5 days on already.
		if err := e.eng.Tick(e.clock.Now().Add(8 * 24 * time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := len(e.runs(t, "workflow_name = 'idle-deal-reminder'")); got != already {
			t.Fatalf("after 13 days %d reminders; want only the %d of deals idle before seeding", got, already)
		}
		e.clock.Add(10 * 24 * time.Hour)
		if err := e.eng.Tick(e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.Tick(e.clock.Now()); err != nil { // a second tick queues nothing twice
			t.Fatal(err)
		}
		e.drain(t)
		if got := tasks("subject ~ 'Deal idle for 14 days'"); got != open+already {
			t.Errorf("idle reminders = %d; want one per open deal (%d) plus the first %d", got, open, already)
		}
	})

}
