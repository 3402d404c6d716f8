package workflows_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestDryRunShowsNoHiddenEmail: a manager lists every user's id, not their hidden emails.
// A dry run (POST /api/relata/workflows/test) showed Carol's hidden address (1) when the
// workflow ran as her by id — runAs took ids too, and her own address is hers to read, so a
// template printing her deal's owner rendered it — and (2) when an assignment picked her:
// its output named her address. Both are also kept in the run history every manager reads.
// runAs names a user by email only now (as the definition's schema says), and an assignment
// shows an address only where its user made it visible.
func TestDryRunShowsNoHiddenEmail(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	const hidden = "carol.hidden@example.com"
	carol, _ := hiddenCarol(t, e, hidden)
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "D", "stage": "lead", "owner": carol.Id})
	schemastest.MustCreate(t, e.app, "email_templates", map[string]any{"name": "owner-line", "object": "deals", "subject": "Owner: {{.record.owner.email}}", "text": "x"})

	tests := []struct {
		name, def string
		code      int
		want      string // what the answer shows instead
	}{
		{"run as a colleague by id", `{"name": "probe", "object": "deals", "trigger": {"type": "manual"}, "runAs": "` + carol.Id + `",
		  "actions": [{"type": "send_email", "to": "ops@example.org", "template": "owner-line"}]}`, 400, "is not the email of a CRM user"},
		{"an assignment", `{"name": "probe", "object": "deals", "trigger": {"type": "manual"},
		  "actions": [{"type": "assign_owner", "team": "south"}]}`, 200, `"name":"Carol"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{"definition": jsonRaw(tt.def), "recordId": deal.Id})
			answer := jsonOf(rep)
			if strings.Contains(answer, hidden) {
				t.Errorf("the dry run shows Carol's hidden email: %s", answer)
			}
			if code != tt.code || !strings.Contains(answer, tt.want) {
				t.Errorf("test = %d %s; want %d showing %q", code, answer, tt.code, tt.want)
			}
		})
	}
	// By her email, the manager who knows it may run as her, and read what she may.
	def := `{"name": "probe", "object": "deals", "trigger": {"type": "manual"}, "runAs": "` + hidden + `",
	  "actions": [{"type": "send_email", "to": "ops@example.org", "template": "owner-line"}]}`
	if code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{"definition": jsonRaw(def), "recordId": deal.Id}); code != 200 || rep["error"] != nil {
		t.Errorf("run as her by email = %d %v", code, rep)
	}
}

// hiddenCarol is a sales user (Carol, team south) who keeps her address hidden, as the
// manager's REST reads confirm, and her token.
func hiddenCarol(t *testing.T, e *env, hidden string) (*core.Record, string) {
	t.Helper()
	carol, tok := schemastest.NewUser(t, e.app, hidden, "sales", "south")
	carol.Set("name", "Carol")
	if err := e.app.Save(carol); err != nil {
		t.Fatal(err)
	}
	var seen map[string]any
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/collections/users/records/"+carol.Id, e.mgrTok, nil, &seen); code != 200 || strings.Contains(jsonOf(seen), hidden) {
		t.Fatalf("REST shows the manager %v (%d); the test assumes it hides her email", seen, code)
	}
	return carol, tok
}
