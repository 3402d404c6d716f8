package workflows_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows"
)

// saveThreeOnContacts enables two workflows whose conditions hold for a website contact and
// one whose condition does not.
func saveThreeOnContacts(t *testing.T, e *env) {
	t.Helper()
	e.save(t, `{"name": "website", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
		"condition": "record.source == \"website\"",
		"actions": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d"}]}`)
	e.save(t, `{"name": "every", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
		"actions": [{"type": "update_record", "values": {"job_title": "Lead"}}]}`)
	e.save(t, `{"name": "partner", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
		"condition": "record.source == \"partner\"",
		"actions": [{"type": "create_task", "subject": "Partner", "due": "1d"}]}`)
}

// A change that triggers several workflows writes one workflow event in its transaction; the
// engine turns it into the runs, each with the change's input, record and actor, once.
func TestSeveralRunsOfOneChangeAreOneEvent(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	saveThreeOnContacts(t, e)
	code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
		map[string]any{"full_name": "Ada Lovelace", "source": "website", "owner": e.alice.Id})
	if code != 200 {
		t.Fatalf("create = %d %v", code, out)
	}
	id := out["id"].(string)
	if n := e.count(t, workflows.EventsCollection, ""); n != 1 {
		t.Fatalf("%d workflow events after the create; want 1", n)
	}
	if n := e.count(t, workflows.RunsCollection, ""); n != 0 {
		t.Fatalf("%d runs before the engine wrote them; want 0", n)
	}
	ev, err := e.app.FindFirstRecordByFilter(workflows.EventsCollection, "record_id = {:id}", map[string]any{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.eng.FanOut(); err != nil || n != 1 {
		t.Fatalf("FanOut = %d, %v; want 1 event", n, err)
	}
	if n, err := e.eng.FanOut(); err != nil || n != 0 {
		t.Fatalf("second FanOut = %d, %v; want 0: the event is gone", n, err)
	}
	if n := e.count(t, workflows.EventsCollection, ""); n != 0 {
		t.Fatalf("%d workflow events left; want 0", n)
	}
	runs := e.runs(t, "")
	var names []string
	for _, r := range runs {
		names = append(names, r.GetString("workflow_name"))
		var in struct {
			Record map[string]any `json:"record"`
			Event  string         `json:"event"`
			User   struct {
				ID string `json:"id"`
			} `json:"user"`
		}
		if err := r.UnmarshalJSONField("input", &in); err != nil {
			t.Fatal(err)
		}
		if r.GetString("record_id") != id || r.GetString("object") != "contacts" || r.GetString("event") != "create" ||
			r.GetString("status") != workflows.StatusPending || r.GetString("actor") != e.alice.Id ||
			in.Record["full_name"] != "Ada Lovelace" || in.Event != "create" || in.User.ID != e.alice.Id {
			t.Errorf("run %s = %v, input %+v", r.GetString("workflow_name"), r.FieldsData(), in)
		}
		if !r.GetDateTime("created").Equal(ev.GetDateTime("created")) {
			t.Errorf("run created %s; want the change's time %s", r.GetDateTime("created"), ev.GetDateTime("created"))
		}
		if w, ok := e.eng.Workflow(r.GetString("workflow_name")); !ok || r.GetString("workflow") != w.ID {
			t.Errorf("run of %s names workflow %q", r.GetString("workflow_name"), r.GetString("workflow"))
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"every", "website"}) {
		t.Fatalf("runs of %v; want every and website", names)
	}
	if n := e.drain(t); n != 2 {
		t.Fatalf("drain ran %d; want 2", n)
	}
	if n := e.count(t, workflows.RunsCollection, "status = 'succeeded'"); n != 2 {
		t.Errorf("%d runs succeeded; want 2", n)
	}
	if n := e.count(t, "activities", "subject = 'Call Ada Lovelace'"); n != 1 {
		t.Errorf("%d tasks; want 1", n)
	}

	// One run only: written directly, no event.
	code, out = e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
		map[string]any{"full_name": "Charles Babbage", "source": "referral"})
	if code != 200 {
		t.Fatalf("create = %d %v", code, out)
	}
	if n := e.count(t, workflows.EventsCollection, ""); n != 0 {
		t.Errorf("%d workflow events for a change with one run; want 0", n)
	}
	if n := e.count(t, workflows.RunsCollection, "record_id = {:id}", map[string]any{"id": out["id"]}); n != 1 {
		t.Errorf("%d runs for the change with one; want 1", n)
	}
}

// The event commits with the change or not at all.
func TestWorkflowEventRollsBackWithTheChange(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	saveThreeOnContacts(t, e)
	coll, err := e.app.FindCollectionByNameOrId("contacts")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = e.app.RunInTransaction(func(tx core.App) error {
		rec := core.NewRecord(coll)
		rec.Set("full_name", "Rolled Back")
		rec.Set("source", "website")
		if err := tx.Save(rec); err != nil {
			return err
		}
		var n int
		if err := tx.DB().NewQuery("SELECT count(*) FROM workflow_events").Row(&n); err != nil || n != 1 {
			t.Errorf("%d workflow events inside the transaction (%v); want 1", n, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("transaction = %v", err)
	}
	if n := e.count(t, workflows.EventsCollection, ""); n != 0 {
		t.Errorf("%d workflow events after the rollback; want 0", n)
	}
	if n := e.drain(t); n != 0 {
		t.Errorf("drain ran %d; want 0", n)
	}
}

// With the engine's workers running, the runs of an event are written and executed without
// anybody calling Drain: the commit wakes the engine.
func TestWorkflowEventRunsWithWorkers(t *testing.T) {
	e := newEnv(t, workflows.Config{PollInterval: time.Hour}) // only a wake can start them
	saveThreeOnContacts(t, e)
	e.eng.Start()
	for _, name := range []string{"A", "B", "C"} {
		if code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": name, "source": "website"}); code != 200 {
			t.Fatalf("create = %d %v", code, out)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.count(t, workflows.RunsCollection, "status = 'succeeded'") < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs succeeded, %d events left; want 6 runs", e.count(t, workflows.RunsCollection, "status = 'succeeded'"),
				e.count(t, workflows.EventsCollection, ""))
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.eng.Stop()
	if n := e.count(t, workflows.RunsCollection, ""); n != 6 {
		t.Errorf("%d runs; want 6 (two per contact, once)", n)
	}
}
