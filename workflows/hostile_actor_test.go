package workflows_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestActorHiddenEmailStaysHidden: a workflow's expressions see the user who caused the
// event as user (user.email among them), and the run keeps that input in the run history
// every manager reads. A rep who keeps her address hidden and saves a deal told it to every
// manager through the run's input, and to a manager's workflow that copied "=user.email"
// into a record (or a webhook). user.email is her address only when she made it visible.
func TestActorHiddenEmailStaysHidden(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	const hidden = "carol.hidden@example.com"
	carol, carolTok := hiddenCarol(t, e, hidden)
	e.save(t, `{"name": "copy-actor", "enabled": true, "object": "deals", "trigger": {"type": "record_updated"},
	  "condition": "user.email != \"\" || user.id != \"\"",
	  "actions": [{"type": "update_record", "values": {"description": "=\"by \" + user.email + \" (\" + user.name + \")\""}}]}`)
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "D", "stage": "lead", "owner": carol.Id})
	if code, out := e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal.Id, carolTok, map[string]any{"name": "D2"}); code != 200 {
		t.Fatalf("carol's update = %d %v", code, out)
	}
	e.drain(t)
	runs := e.runs(t, "workflow_name = 'copy-actor'")
	if len(runs) != 1 || runs[0].GetString("status") != workflows.StatusSucceeded {
		t.Fatalf("runs = %v", runs)
	}
	var list map[string]any
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/collections/workflow_runs/records?perPage=100", e.mgrTok, nil, &list); code != 200 {
		t.Fatalf("runs list = %d", code)
	}
	if s := jsonOf(list); !strings.Contains(s, carol.Id) || strings.Contains(s, hidden) {
		t.Errorf("the run history shows the manager %s", s)
	}
	got, err := e.app.FindRecordById("deals", deal.Id)
	if err != nil {
		t.Fatal(err)
	}
	if d := got.GetString("description"); strings.Contains(d, hidden) || d != "by  (Carol)" {
		t.Errorf("description = %q; want no hidden address", d)
	}

	// Once she shows her address, workflows see it.
	carol.Set("emailVisibility", true)
	if err := e.app.Save(carol); err != nil {
		t.Fatal(err)
	}
	if code, out := e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal.Id, carolTok, map[string]any{"name": "D3"}); code != 200 {
		t.Fatalf("carol's update = %d %v", code, out)
	}
	e.drain(t)
	if got, _ = e.app.FindRecordById("deals", deal.Id); !strings.Contains(got.GetString("description"), hidden) {
		t.Errorf("description = %q; want her visible address", got.GetString("description"))
	}
}

// TestEmailStepShowsNoHiddenAddress: a send_email step's output names its recipient, and
// the output is kept in the run history and shown by dry runs to every manager. A manager's
// dry run of "to": "owner" on a test record owned by any colleague told that colleague's
// hidden address (no mail sent, nothing left behind). The output names such a user instead.
func TestEmailStepShowsNoHiddenAddress(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	const hidden = "carol.hidden@example.com"
	carol, _ := schemastest.NewUser(t, e.app, hidden, "sales", "south")
	carol.Set("name", "Carol")
	if err := e.app.Save(carol); err != nil {
		t.Fatal(err)
	}
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "D", "stage": "lead", "owner": e.mgr.Id})
	schemastest.MustCreate(t, e.app, "email_templates", map[string]any{"name": "to-line", "object": "deals",
		"subject": "For {{.recipient.name}}: {{printf \"%.5s\" .recipient.email}}|{{.recipient.email}}", "text": "x"})
	// A template that fails when her address starts with "c": a dry run per letter spelt it out.
	schemastest.MustCreate(t, e.app, "email_templates", map[string]any{"name": "probe-c", "object": "deals",
		"subject": "{{if eq (printf \"%.1s\" .recipient.email) \"c\"}}{{index \"\" 3}}{{end}}ok", "text": "x"})
	for _, action := range []string{
		`{"type": "send_email", "to": "owner", "template": "probe-c"}`,
		`{"type": "notify", "to": "owner", "template": "probe-c"}`,
		`{"type": "send_email", "to": "owner", "subject": "hi", "text": "x"}`,
		`{"type": "send_email", "to": "=\"` + hidden + `\"", "subject": "hi", "text": "x"}`,
		`{"type": "send_email", "to": "owner", "template": "to-line"}`,
		`{"type": "notify", "to": "owner", "template": "to-line"}`,
	} {
		def := `{"name": "probe", "object": "deals", "trigger": {"type": "manual"}, "actions": [` + action + `]}`
		code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{
			"definition": jsonRaw(def), "recordId": deal.Id, "record": map[string]any{"owner": carol.Id}})
		if s := jsonOf(rep); code != 200 || rep["error"] != nil || strings.Contains(s, hidden) || strings.Contains(s, "carol") || !strings.Contains(s, carol.Id) {
			t.Errorf("%s: dry run = %d %s; want her named by id, without her address", action, code, s)
		}
	}

	// A real run mails her; its step shows her by name too.
	e.save(t, `{"name": "mail-owner", "enabled": true, "object": "deals", "trigger": {"type": "record_updated"},
	  "actions": [{"type": "send_email", "to": "owner", "template": "to-line"}]}`)
	deal.Set("owner", carol.Id)
	if err := e.app.Save(deal); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	runs := e.runs(t, "workflow_name = 'mail-owner'")
	if len(runs) != 1 || runs[0].GetString("status") != workflows.StatusSucceeded {
		t.Fatalf("runs = %v", runs)
	}
	steps, err := e.app.FindRecordsByFilter(workflows.StepsCollection, "run = {:r}", "", 0, 0, map[string]any{"r": runs[0].Id})
	if err != nil || len(steps) != 1 {
		t.Fatalf("steps = %v, %v", steps, err)
	}
	if out := steps[0].GetString("output"); strings.Contains(out, hidden) || !strings.Contains(out, "Carol") {
		t.Errorf("step output = %s", out)
	}
	// The email itself is hers: it goes to her address and prints it (what the template
	// computes of it, here its first five letters, is computed of a stand-in).
	if n := e.count(t, "emails", "to ~ {:a} && subject = {:s}", map[string]any{"a": hidden, "s": "For Carol: relat|" + hidden}); n != 1 {
		mails, _ := e.app.FindAllRecords("emails")
		t.Errorf("%d emails to her with her address in the subject; want 1 (%s)", n, jsonOf(mails))
	}
}
