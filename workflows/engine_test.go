package workflows_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

const newContactTask = `{
  "name": "new-contact-call",
  "enabled": true,
  "object": "contacts",
  "trigger": {"type": "record_created"},
  "condition": "record.source == \"website\"",
  "actions": [
    {"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d", "assignee": "owner"}
  ]
}`

func TestRecordCreatedQueuesInTheSameTransaction(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, newContactTask)

	code, contact := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
		map[string]any{"full_name": "Ada Lovelace", "email": "ada@example.com", "source": "website"})
	if code != 200 {
		t.Fatalf("create contact = %d %v", code, contact)
	}
	// The run is queued by the time the API answers: it committed with the contact.
	runs := e.runs(t, "")
	if len(runs) != 1 || runs[0].GetString("status") != "pending" || runs[0].GetString("record_id") != contact["id"] {
		t.Fatalf("runs after create = %v", runs)
	}
	if runs[0].GetString("actor") != e.alice.Id {
		t.Errorf("run actor = %q; want alice", runs[0].GetString("actor"))
	}
	if n := e.drain(t); n != 1 {
		t.Fatalf("drained %d runs; want 1", n)
	}
	task, err := e.app.FindFirstRecordByFilter("activities", "contact = {:c}", map[string]any{"c": contact["id"]})
	if err != nil {
		t.Fatalf("no task was created: %v", err)
	}
	if task.GetString("subject") != "Call Ada Lovelace" || task.GetString("type") != "task" || task.GetString("owner") != e.alice.Id {
		t.Errorf("task = %v", task.FieldsData())
	}
	if due := task.GetDateTime("due").Time(); !due.Equal(e.clock.Now().Add(24 * time.Hour)) {
		t.Errorf("due = %v; want a day after %v", due, e.clock.Now())
	}
	run, _ := e.app.FindRecordById(workflows.RunsCollection, runs[0].Id)
	if run.GetString("status") != workflows.StatusSucceeded {
		t.Errorf("run status = %s (%s)", run.GetString("status"), run.GetString("error"))
	}
	// The contact's creation touched nothing but the task; a second drain does nothing.
	if n := e.drain(t); n != 0 {
		t.Errorf("a second drain ran %d runs", n)
	}
	// The condition: a contact from another source queues nothing.
	e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok, map[string]any{"full_name": "Bo", "source": "referral"})
	if got := len(e.runs(t, "")); got != 1 {
		t.Errorf("a contact failing the condition queued a run (%d runs)", got)
	}
}

func TestTriggers(t *testing.T) {
	tests := []struct {
		name    string
		trigger string
		act     func(e *env, t *testing.T, deal string)
		want    int // runs queued
	}{
		{"record updated", `{"type": "record_updated"}`, func(e *env, t *testing.T, deal string) {
			e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal, e.aliceTok, map[string]any{"name": "Renamed"})
		}, 1},
		{"update that changes nothing", `{"type": "record_updated"}`, func(e *env, t *testing.T, deal string) {
			e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal, e.aliceTok, map[string]any{"name": "Deal"})
		}, 0},
		{"field changed", `{"type": "field_changed", "field": "amount"}`, func(e *env, t *testing.T, deal string) {
			e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal, e.aliceTok, map[string]any{"amount": 5000})
		}, 1},
		{"field changed, other field", `{"type": "field_changed", "field": "amount"}`, func(e *env, t *testing.T, deal string) {
			e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal, e.aliceTok, map[string]any{"name": "X"})
		}, 0},
		{"stage changed to proposal", `{"type": "stage_changed", "to": "proposal"}`, func(e *env, t *testing.T, deal string) {
			e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal, e.aliceTok, map[string]any{"stage": "proposal"})
		}, 1},
		{"stage changed to another stage", `{"type": "stage_changed", "to": "proposal"}`, func(e *env, t *testing.T, deal string) {
			e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal, e.aliceTok, map[string]any{"stage": "qualified"})
		}, 0},
		{"stage changed from lead to won", `{"type": "stage_changed", "from": "lead", "to": "won"}`, func(e *env, t *testing.T, deal string) {
			e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal, e.aliceTok, map[string]any{"stage": "won"})
		}, 1},
		{"record deleted", `{"type": "record_deleted"}`, func(e *env, t *testing.T, deal string) {
			e.api(t, http.MethodDelete, "/api/collections/deals/records/"+deal, e.mgrTok, nil)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, workflows.Config{})
			code, deal := e.api(t, http.MethodPost, "/api/collections/deals/records", e.aliceTok, map[string]any{"name": "Deal", "stage": "lead"})
			if code != 200 {
				t.Fatalf("create deal = %d %v", code, deal)
			}
			e.save(t, `{"name": "w", "enabled": true, "object": "deals", "trigger": `+tt.trigger+`,
				"actions": [{"type": "create_record", "object": "activities", "values": {"type": "note", "subject": "=\"Saw \" + event + \" of \" + record.name"}}]}`)
			tt.act(e, t, deal["id"].(string))
			if got := len(e.runs(t, "")); got != tt.want {
				t.Fatalf("queued %d runs; want %d", got, tt.want)
			}
			e.drain(t)
			if got := e.count(t, "activities", "type = 'note'"); got != tt.want {
				t.Errorf("created %d notes; want %d", got, tt.want)
			}
			for _, r := range e.runs(t, "") {
				if r.GetString("status") != workflows.StatusSucceeded {
					t.Errorf("run %s: %s %s", r.Id, r.GetString("status"), r.GetString("error"))
				}
			}
		})
	}
}

func TestActionsUpdateStageAndBranch(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	co := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Acme"})
	e.save(t, `{"name": "qualify", "enabled": true, "object": "deals",
	  "trigger": {"type": "field_changed", "field": "amount"},
	  "actions": [
	    {"type": "branch", "if": "record.amount >= 10000",
	     "then": [
	       {"type": "change_stage", "stage": "qualified"},
	       {"type": "update_record", "values": {"description": "=\"Big deal: \" + string(record.amount)", "expected_close": "=addDays(now, 30)"}},
	       {"type": "update_record", "target": "company", "values": {"tags": ["big-deal"]}}
	     ],
	     "else": [{"type": "update_record", "values": {"description": "small"}}]}
	  ]}`)
	_, big := e.api(t, http.MethodPost, "/api/collections/deals/records", e.aliceTok, map[string]any{"name": "Big", "company": co.Id})
	_, small := e.api(t, http.MethodPost, "/api/collections/deals/records", e.aliceTok, map[string]any{"name": "Small"})
	e.api(t, http.MethodPatch, "/api/collections/deals/records/"+big["id"].(string), e.aliceTok, map[string]any{"amount": 25000})
	e.api(t, http.MethodPatch, "/api/collections/deals/records/"+small["id"].(string), e.aliceTok, map[string]any{"amount": 500})
	e.drain(t)

	b, _ := e.app.FindRecordById("deals", big["id"].(string))
	if b.GetString("stage") != "qualified" || b.GetString("description") != "Big deal: 25000" {
		t.Errorf("big deal = stage %s, description %q", b.GetString("stage"), b.GetString("description"))
	}
	if got := b.GetDateTime("expected_close").Time(); !got.Equal(e.clock.Now().AddDate(0, 0, 30)) {
		t.Errorf("expected_close = %v", got)
	}
	c, _ := e.app.FindRecordById("companies", co.Id)
	if !strings.Contains(c.GetString("tags"), "big-deal") {
		t.Errorf("company tags = %s", c.GetString("tags"))
	}
	s, _ := e.app.FindRecordById("deals", small["id"].(string))
	if s.GetString("stage") != "lead" || s.GetString("description") != "small" {
		t.Errorf("small deal = %s %q", s.GetString("stage"), s.GetString("description"))
	}
	steps := e.count(t, workflows.StepsCollection, "id != ''")
	if steps != 4+2 { // big: branch + 3; small: branch + 1
		t.Errorf("recorded %d steps; want 6", steps)
	}
}

func TestSendEmailQueuesOutbox(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "send_email", "to": "email", "subject": "=\"Welcome, \" + record.full_name", "text": "=\"Hello \" + record.full_name + \"!\""}]}`)
	e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok, map[string]any{"full_name": "Ada", "email": "ada@example.com"})
	e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok, map[string]any{"full_name": "No Mail"})
	e.drain(t)
	mails, err := e.app.FindAllRecords("emails")
	if err != nil || len(mails) != 1 {
		t.Fatalf("emails = %d %v; want 1", len(mails), err)
	}
	m := mails[0]
	if m.GetString("subject") != "Welcome, Ada" || !strings.Contains(m.GetString("to"), "ada@example.com") ||
		m.GetString("status") != "queued" || m.GetString("object") != "contacts" || m.GetString("run") == "" {
		t.Errorf("email = %v", m.FieldsData())
	}
}

func TestBadDefinitionsAreRefusedWithLocation(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	tests := []struct {
		name string
		def  string
		want []string
	}{
		{"unknown field in condition", `{"name": "a", "object": "deals", "trigger": {"type": "record_created"},
			"condition": "record.amout > 5", "actions": [{"type": "change_stage", "stage": "won"}]}`,
			[]string{"/condition", "amout"}},
		{"bad expression", `{"name": "a", "object": "deals", "trigger": {"type": "record_created"},
			"condition": "record.amount >", "actions": [{"type": "change_stage", "stage": "won"}]}`,
			[]string{"/condition", "line 1"}},
		{"type mismatch", `{"name": "a", "object": "deals", "trigger": {"type": "record_created"},
			"condition": "record.amount == \"lots\"", "actions": [{"type": "change_stage", "stage": "won"}]}`,
			[]string{"/condition"}},
		{"stage not in pipeline", `{"name": "a", "object": "deals", "trigger": {"type": "record_created"},
			"actions": [{"type": "change_stage", "stage": "signed"}]}`,
			[]string{"/actions/0/stage", `stage "signed" is not in pipeline sales`}},
		{"trigger stage not in pipeline", `{"name": "a", "object": "deals", "trigger": {"type": "stage_changed", "to": "closed"},
			"actions": [{"type": "change_stage", "stage": "won"}]}`,
			[]string{"/trigger/to", `"closed"`}},
		{"unknown field in values", `{"name": "a", "object": "deals", "trigger": {"type": "record_created"},
			"actions": [{"type": "update_record", "values": {"amout": 1}}]}`,
			[]string{"/actions/0/values/amout", `deals has no field "amout"`}},
		{"unknown object", `{"name": "a", "object": "dealz", "trigger": {"type": "record_created"},
			"actions": [{"type": "change_stage", "stage": "won"}]}`,
			[]string{"/object", `unknown object "dealz"`}},
		{"unknown action setting", `{"name": "a", "object": "deals", "trigger": {"type": "record_created"},
			"actions": [{"type": "change_stage", "stage": "won", "colour": "red"}]}`,
			[]string{"/actions/0/colour", "unknown property"}},
		{"bad value type", `{"name": "a", "object": "deals", "trigger": {"type": "record_created"},
			"actions": [{"type": "update_record", "values": {"amount": "=record.name"}}]}`,
			[]string{"/actions/0/values/amount"}},
		{"bad cron", `{"name": "a", "trigger": {"type": "schedule", "cron": "every day"},
			"actions": [{"type": "create_record", "object": "activities", "values": {"subject": "x"}}]}`,
			[]string{"/trigger/cron"}},
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
			// The same definition is refused over the REST API, with nothing stored.
			code, out := e.api(t, http.MethodPost, "/api/collections/workflows/records", e.mgrTok,
				map[string]any{"name": "bad", "enabled": true, "definition": jsonRaw(tt.def)})
			if code != 400 || !strings.Contains(jsonOf(out), "definition") {
				t.Errorf("REST create = %d %v; want 400 about the definition", code, out)
			}
		})
	}
	if n := e.count(t, "workflows", "id != ''"); n != 0 {
		t.Errorf("%d bad workflows were stored", n)
	}
}

func jsonRaw(s string) any {
	var v any
	_ = jsonUnmarshal([]byte(s), &v)
	return v
}
