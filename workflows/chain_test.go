package workflows_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// Workflows that fan out twice: a company's industry changing updates each of its contacts
// (for_each), each contact's change updates each of its activities (for_each), and each
// activity's change runs fanActivity (and fanActivity2 when events is set, so that each
// change queues two runs and is stored as one workflow event). From one company of 10
// contacts of 10 activities each, the chain wants 10 + 100 runs (10 + 200 with events).
const (
	fanCompany = `{"name": "fan-companies", "enabled": true, "object": "companies", "runAs": "alice@example.com",
	  "trigger": {"type": "field_changed", "field": "industry"},
	  "actions": [{"type": "for_each", "over": "contacts.company", "actions": [
	    {"type": "update_record", "target": "item", "values": {"job_title": "=\"At \" + record.name"}}]}]}`
	fanContact = `{"name": "fan-contacts", "enabled": true, "object": "contacts", "runAs": "alice@example.com",
	  "trigger": {"type": "field_changed", "field": "job_title"},
	  "actions": [{"type": "for_each", "over": "activities.contact", "actions": [
	    {"type": "update_record", "target": "item", "values": {"subject": "=\"Touched \" + record.full_name"}}]}]}`
	fanActivity = `{"name": "fan-activities", "enabled": true, "object": "activities",
	  "trigger": {"type": "field_changed", "field": "subject"},
	  "actions": [{"type": "update_record", "values": {"body": "done"}}]}`
	fanActivity2 = `{"name": "fan-activities-2", "enabled": true, "object": "activities",
	  "trigger": {"type": "field_changed", "field": "subject"},
	  "actions": [{"type": "update_record", "values": {"done": true}}]}`
)

// fanOutChain saves the fan-out workflows and n companies of 10 contacts of 10 activities each,
// and returns the companies.
func fanOutChain(t *testing.T, e *env, n int, events bool) []*core.Record {
	t.Helper()
	for _, def := range []string{fanCompany, fanContact, fanActivity} {
		e.save(t, def)
	}
	if events {
		e.save(t, fanActivity2)
	}
	var companies []*core.Record
	for c := range n {
		co := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": fmt.Sprintf("Co%d", c), "owner": e.alice.Id})
		companies = append(companies, co)
		contacts := bulkCreate(t, e.app, "contacts", 10, func(i int) map[string]any {
			return map[string]any{"full_name": fmt.Sprintf("P%d-%d", c, i), "company": co.Id, "owner": e.alice.Id}
		})
		for _, ct := range contacts {
			bulkCreate(t, e.app, "activities", 10, func(i int) map[string]any {
				return map[string]any{"type": "task", "subject": fmt.Sprintf("A%d", i), "contact": ct.Id, "owner": e.alice.Id}
			})
		}
	}
	return companies
}

// touch changes a company's industry, as a user's save (depth 0) would.
func touch(t *testing.T, e *env, company *core.Record) {
	t.Helper()
	rec, err := e.app.FindRecordById("companies", company.Id)
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("industry", "software")
	if err := e.app.Save(rec); err != nil {
		t.Fatal(err)
	}
}

// rootOf returns the run of fan-companies for company.
func rootOf(t *testing.T, e *env, company *core.Record) *core.Record {
	t.Helper()
	runs := e.runs(t, "workflow_name = 'fan-companies' && record_id = '"+company.Id+"'")
	if len(runs) != 1 {
		t.Fatalf("%d runs of fan-companies for %s; want 1", len(runs), company.Id)
	}
	if s := runs[0].GetString("status"); s != workflows.StatusSucceeded {
		t.Fatalf("the chain's first run is %s: %s", s, runs[0].GetString("error"))
	}
	return runs[0]
}

// checkChain checks that the chain started by root ran want runs and refused refused, each
// recorded as skipped with an error saying which chain reached the bound.
func checkChain(t *testing.T, e *env, root *core.Record, max, want, refused int) {
	t.Helper()
	chain := "chain = '" + root.Id + "'"
	if got := e.count(t, workflows.RunsCollection, chain+" && status = 'succeeded'"); got != want {
		t.Errorf("%d runs of the chain succeeded; want %d", got, want)
	}
	if got := e.count(t, workflows.RunsCollection, chain+" && status != 'succeeded' && status != 'skipped'"); got != 0 {
		t.Errorf("%d runs of the chain neither succeeded nor were skipped", got)
	}
	skipped := e.runs(t, chain+" && status = 'skipped'")
	if len(skipped) != refused {
		t.Errorf("%d runs of the chain skipped; want %d", len(skipped), refused)
	}
	wantErr := fmt.Sprintf(`the chain of workflows started by "fan-companies" on companies/%s reached MaxChainRuns (%d) runs`, root.GetString("record_id"), max)
	for _, s := range skipped {
		if !strings.Contains(s.GetString("error"), wantErr) || !strings.Contains(s.GetString("error"), root.Id) {
			t.Fatalf("skipped run %s: error %q; want it to say %q and name the chain %s", s.Id, s.GetString("error"), wantErr, root.Id)
		}
	}
	fresh, err := e.app.FindRecordById(workflows.RunsCollection, root.Id)
	if err != nil {
		t.Fatal(err)
	}
	if got := fresh.GetInt("chain_runs"); got != want+refused {
		t.Errorf("chain_runs = %d; want %d (every run the chain asked for)", got, want+refused)
	}
	if left := e.count(t, workflows.EventsCollection, "id != ''"); left != 0 {
		t.Errorf("%d workflow events left", left)
	}
}

// A chain that would grow past MaxChainRuns runs exactly MaxChainRuns runs; the others are
// recorded as skipped, with the reason, and change nothing.
func TestChainStopsAtMaxChainRuns(t *testing.T) {
	e := newEnv(t, workflows.Config{MaxChainRuns: 50})
	co := fanOutChain(t, e, 1, false)[0]
	touch(t, e, co)
	e.drain(t)
	root := rootOf(t, e, co)
	// 10 runs of fan-contacts, then 40 of the 100 runs of fan-activities.
	checkChain(t, e, root, 50, 50, 60)
	if got := e.count(t, "activities", "body = 'done'"); got != 40 {
		t.Errorf("%d activities done; want 40", got)
	}
	if got := e.count(t, "activities", "subject ~ 'Touched'"); got != 100 {
		t.Errorf("%d activities touched; want 100 (the fan-contacts runs all ran)", got)
	}
}

// The same with the runs of each change stored first as one workflow event: the event's runs
// are counted when it is stored, carry the chain when written, and are not counted again.
func TestChainStopsAtMaxChainRunsThroughEvents(t *testing.T) {
	e := newEnv(t, workflows.Config{MaxChainRuns: 50})
	co := fanOutChain(t, e, 1, true)[0]
	touch(t, e, co)
	e.drain(t)
	root := rootOf(t, e, co)
	// 10 runs of fan-contacts, then 40 of the 200 runs of the two activity workflows.
	checkChain(t, e, root, 50, 50, 160)
	if got := e.count(t, "activities", "body = 'done'") + e.count(t, "activities", "done = true"); got != 40 {
		t.Errorf("%d activity updates; want 40", got)
	}
}

// A chain within the bound runs whole; a chain exactly at it too.
func TestChainBelowMaxChainRunsRunsFully(t *testing.T) {
	for _, max := range []int{110, 1000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			e := newEnv(t, workflows.Config{MaxChainRuns: max})
			co := fanOutChain(t, e, 1, false)[0]
			touch(t, e, co)
			e.drain(t)
			checkChain(t, e, rootOf(t, e, co), max, 110, 0)
			if got := e.count(t, "activities", "body = 'done'"); got != 100 {
				t.Errorf("%d activities done; want 100", got)
			}
		})
	}
}

// Two saves start two chains, each with its own budget, even when their runs interleave.
func TestChainBudgetsAreIndependent(t *testing.T) {
	e := newEnv(t, workflows.Config{MaxChainRuns: 50})
	cos := fanOutChain(t, e, 2, false)
	for _, co := range cos {
		touch(t, e, co)
	}
	e.drain(t)
	for _, co := range cos {
		checkChain(t, e, rootOf(t, e, co), 50, 50, 60)
	}
	if got := e.count(t, "activities", "body = 'done'"); got != 80 {
		t.Errorf("%d activities done; want 80", got)
	}
}

// A run that failed and is retried keeps its chain: what it queues on the retry counts
// against the budget of the chain it belongs to.
func TestChainSurvivesRetry(t *testing.T) {
	e := newEnv(t, workflows.Config{MaxChainRuns: 50})
	co := fanOutChain(t, e, 1, false)[0]
	// fan-contacts fails on its first item (a value that is no text), with nothing done.
	e.save(t, strings.Replace(fanContact, `"=\"Touched \" + record.full_name"`, `"=string(int(record.full_name))"`, 1))
	touch(t, e, co)
	e.drain(t)
	root := rootOf(t, e, co)
	failed := e.runs(t, "workflow_name = 'fan-contacts' && status = 'failed'")
	if len(failed) != 10 {
		t.Fatalf("%d failed runs of fan-contacts; want 10", len(failed))
	}
	// Fixed and retried, the 10 runs queue their 100 runs in the same chain: 40 of them fit.
	d, err := workflows.Parse("fan-contacts", []byte(fanContact))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Save(e.app, d); err != nil {
		t.Fatal(err)
	}
	for _, r := range failed {
		if r.GetString("chain") != root.Id {
			t.Fatalf("run %s of fan-contacts: chain %q; want %s", r.Id, r.GetString("chain"), root.Id)
		}
		if err := e.eng.Retry(r.Id); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	checkChain(t, e, root, 50, 50, 60)
}

// statements records the SQL statements run on the app's databases that contain needle.
type statements struct {
	mu     sync.Mutex
	needle string
	seen   []string
}

func watchSQL(t *testing.T, app core.App, needle string) *statements {
	t.Helper()
	s := &statements{needle: needle}
	for _, b := range []dbx.Builder{app.NonconcurrentDB(), app.ConcurrentDB()} {
		db, ok := b.(*dbx.DB)
		if !ok {
			t.Fatalf("the app's database is a %T", b)
		}
		db.QueryLogFunc = func(_ context.Context, _ time.Duration, sql string, _ *sql.Rows, _ error) { s.add(sql) }
		db.ExecLogFunc = func(_ context.Context, _ time.Duration, sql string, _ sql.Result, _ error) { s.add(sql) }
		t.Cleanup(func() { db.QueryLogFunc, db.ExecLogFunc = nil, nil })
	}
	return s
}

func (s *statements) add(sql string) {
	if strings.Contains(sql, s.needle) {
		s.mu.Lock()
		s.seen = append(s.seen, sql)
		s.mu.Unlock()
	}
}

func (s *statements) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

// A user's save (depth 0) starts chains and counts nothing: no statement of its own, nor for
// the runs it queues, nor for a dry run; a change made by a run counts with one statement.
func TestChainDepthZeroCountsNothing(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	co := fanOutChain(t, e, 1, true)[0]
	e.save(t, `{"name": "task-on-contact", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "create_task", "subject": "Call", "due": "0d"}]}`)
	sqls := watchSQL(t, e.app, "chain_runs")
	// One run (stored as a run), then two (stored as one workflow event), each executed:
	// nothing they write triggers a workflow.
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada", "owner": e.alice.Id})
	act := schemastest.MustCreate(t, e.app, "activities", map[string]any{"type": "task", "subject": "x", "owner": e.alice.Id})
	act.Set("subject", "y")
	if err := e.app.Save(act); err != nil {
		t.Fatal(err)
	}
	if got := sqls.take(); len(got) != 0 {
		t.Fatalf("saves by users counted chains: %q", got)
	}
	if n := e.drain(t); n != 3 {
		t.Fatalf("ran %d runs; want 3", n)
	}
	w, _ := e.eng.Workflow("fan-companies")
	if _, err := e.eng.DryRun(w, co, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := sqls.take(); len(got) != 0 {
		t.Fatalf("depth 0 and dry runs counted chains: %q", got)
	}
	// A run's change that triggers workflows: one count per change.
	touch(t, e, co)
	e.drain(t)
	if got := len(sqls.take()); got != 10+100 {
		t.Errorf("%d chain counts; want 110 (one per change made by a run that triggered workflows)", got)
	}
}

// A chain whose first run was deleted (with its workflow, say) can no longer be counted: what
// its runs trigger is refused, with why, rather than left unbounded.
func TestChainWithoutItsFirstRunStops(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	co := fanOutChain(t, e, 1, false)[0]
	touch(t, e, co)
	if ran, err := e.eng.RunNext(); err != nil || !ran {
		t.Fatalf("RunNext: %v, %v", ran, err)
	}
	root := rootOf(t, e, co) // it queued the 10 runs of fan-contacts
	if _, err := e.app.DB().Delete(workflows.RunsCollection, dbx.HashExp{"id": root.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if got := e.count(t, workflows.RunsCollection, "chain = '"+root.Id+"' && status = 'succeeded'"); got != 10 {
		t.Errorf("%d runs of the chain succeeded; want the 10 queued before", got)
	}
	skipped := e.runs(t, "chain = '"+root.Id+"' && status = 'skipped'")
	if len(skipped) != 100 {
		t.Fatalf("%d runs skipped; want 100", len(skipped))
	}
	if msg := skipped[0].GetString("error"); !strings.Contains(msg, "the run that started this chain of workflows ("+root.Id+") was deleted") {
		t.Errorf("error %q", msg)
	}
}
