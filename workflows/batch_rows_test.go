package workflows_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/outbox"
)

// A group writes its step records with multi-row inserts and its emails as rows: they must
// read back exactly like the records of a run executed one by one (RunNext, record saves),
// through the REST API as well.
func TestRunBatchRowsMatchOneByOne(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "branch", "if": "record.email != \"\"",
	                "then": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d"},
	                         {"type": "send_email", "to": "email", "subject": "=\"Welcome \" + record.full_name", "text": "x"}]}]}`)
	create := func(name string) string {
		t.Helper()
		code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": name, "email": strings.ToLower(name) + "@example.com"})
		if code != 200 {
			t.Fatalf("create = %d %v", code, out)
		}
		return out["id"].(string)
	}
	single := create("Single")
	if ran, err := e.eng.RunNext(); !ran || err != nil {
		t.Fatalf("RunNext = %v, %v", ran, err)
	}
	grouped := []string{create("Ada"), create("Bob"), create("Cy")}
	if n, err := e.eng.RunBatch(workflows.BatchSize); n != 3 || err != nil {
		t.Fatalf("RunBatch = %d, %v; want 3", n, err)
	}
	if n := e.eng.GroupFallbacks(); n != 0 {
		t.Fatalf("the group fell back to one by one %d time(s)", n)
	}
	runOf := func(contact string) *core.Record {
		t.Helper()
		r, err := e.app.FindFirstRecordByData(workflows.RunsCollection, "record_id", contact)
		if err != nil {
			t.Fatal(err)
		}
		if r.GetString("status") != workflows.StatusSucceeded || r.GetDateTime("finished").IsZero() {
			t.Fatalf("run of %s: %v", contact, r.FieldsData())
		}
		return r
	}
	// shape is what a step record says, without its ids and times (which must be set).
	shape := func(run *core.Record) []string {
		t.Helper()
		var out []string
		for _, path := range []string{"0", "0.then.0", "0.then.1"} {
			code, list := e.api(t, http.MethodGet, "/api/collections/workflow_steps/records?filter="+
				fmt.Sprintf("(run='%s'%%26%%26path='%s')", run.Id, path), e.mgrTok, nil)
			items, _ := list["items"].([]any)
			if code != 200 || len(items) != 1 {
				t.Fatalf("step %s of run %s through the API: %d %v", path, run.Id, code, list)
			}
			s := items[0].(map[string]any)
			for _, f := range []string{"id", "started", "finished"} {
				if v, _ := s[f].(string); v == "" {
					t.Errorf("step %s of run %s: %s is empty", path, run.Id, f)
				}
			}
			o, _ := s["output"].(map[string]any)
			keys := []string{}
			for k := range o {
				keys = append(keys, k)
			}
			out = append(out, fmt.Sprintf("%s %s %s attempts=%v error=%q output keys=%d branch=%v",
				s["path"], s["action"], s["status"], s["attempts"], s["error"], len(keys), o["branch"]))
			// the output names the email or task it made, which exists
			if id, _ := o["email"].(string); id != "" {
				if _, err := e.app.FindRecordById(outbox.Collection, id); err != nil {
					t.Errorf("step %s names email %s: %v", path, id, err)
				}
			}
			if id, _ := o["id"].(string); id != "" {
				if _, err := e.app.FindRecordById("activities", id); err != nil {
					t.Errorf("step %s names task %s: %v", path, id, err)
				}
			}
		}
		return out
	}
	want := shape(runOf(single))
	if len(want) != 3 || !strings.Contains(want[0], "branch=then") {
		t.Fatalf("one-by-one steps = %q", want)
	}
	for _, c := range grouped {
		if got := shape(runOf(c)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("grouped steps of %s =\n%q\nwant (as one by one)\n%q", c, got, want)
		}
	}
	// The emails: one per contact, the same columns either way, and all delivered.
	emailOf := func(contact string) dbx.NullStringMap {
		t.Helper()
		row := dbx.NullStringMap{}
		if err := e.app.DB().Select("*").From(outbox.Collection).Where(dbx.HashExp{"record_id": contact}).One(&row); err != nil {
			t.Fatal(err)
		}
		return row
	}
	one := emailOf(single)
	for _, c := range grouped {
		row := emailOf(c)
		for col, v := range one {
			switch col {
			case "id", "to", "subject", "record_id", "run", "idempotency_key", "created", "updated", "next_at":
				if row[col].String == "" {
					t.Errorf("email of %s: %s is empty", c, col)
				}
			default:
				if row[col] != v {
					t.Errorf("email of %s: %s = %q; one by one %q", c, col, row[col].String, v.String)
				}
			}
		}
		var to []string
		if err := json.Unmarshal([]byte(row["to"].String), &to); err != nil || len(to) != 1 || !strings.Contains(to[0], "@example.com") {
			t.Errorf("email of %s: to = %s", c, row["to"].String)
		}
	}
	if got := e.count(t, outbox.Collection, "id != ''"); got != 4 {
		t.Errorf("%d emails; want 4", got)
	}
}

// A subject longer than the emails collection allows fails the run, as a record save did.
func TestSendEmailSubjectTooLong(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "long", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "send_email", "to": "email", "subject": "=record.message", "text": "x"}]}`)
	code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
		map[string]any{"full_name": "Long", "email": "long@example.com", "message": strings.Repeat("é", 999)})
	if code != 200 {
		t.Fatalf("create = %d %v", code, out)
	}
	e.drain(t)
	failed := e.runs(t, `status = "failed"`)
	if len(failed) != 1 || !strings.Contains(failed[0].GetString("error"), "999 characters, at most 998") {
		t.Fatalf("failed runs = %d (%v); want one refusing the subject", len(failed), e.runs(t, ""))
	}
	if got := e.count(t, outbox.Collection, "id != ''"); got != 0 {
		t.Errorf("%d emails queued; want none", got)
	}
}
