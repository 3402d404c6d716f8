package workflows_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestScriptFindAccess reproduces finding 3: find() read secrets through @collection, hidden
// fields, and applied its limit before access (runAs alice, limit 5 → 0 of her 34 deals).
// Scripts now read through schemas.Find as the run-as user or the system actor.
func TestScriptFindAccess(t *testing.T) {
	tests := []struct {
		name     string
		runAs    string
		source   string
		wantErr  string // "" when the run must succeed
		wantAddr string // the company's address the script sets
	}{
		{"run-as user cannot reach secrets through @collection", `"runAs": "alice@example.com",`,
			`const f = '@collection.relata_secrets:s.value ?>= ""'; set('address', String(find('deals', f, {}, 5).length))`, "@collection", ""},
		{"the system cannot reach secrets through @collection", ``,
			`const f = '@collection.relata_secrets:s.value ?>= ""'; set('address', String(find('deals', f, {}, 5).length))`, "@collection", ""},
		{"the system cannot filter by hidden fields", ``,
			`const f = 'owner.tokenKey != ""'; set('address', String(find('deals', f, {}, 5).length))`, "tokenKey", ""},
		{"run-as user cannot filter by hidden fields", `"runAs": "alice@example.com",`,
			`const f = 'owner.password != ""'; set('address', String(find('deals', f, {}, 5).length))`, "password", ""},
		{"the limit counts only what the run-as user may list", `"runAs": "alice@example.com",`,
			`const d = find('deals', '', {}, 5); set('address', d.length + ':' + d.filter(x => x.owner === '{alice}').length)`, "", "5:5"},
		{"every deal of the run-as user, none of another's", `"runAs": "alice@example.com",`,
			`set('address', String(find('deals', 'amount >= 0', {}, 200).length))`, "", "34"},
		{"the system reads every deal", ``,
			`set('address', String(find('deals', 'amount >= 0', {}, 200).length))`, "", "74"},
		{"all-match filters through a multi-valued relation are refused for the run-as user", `"runAs": "alice@example.com",`,
			`const f = 'deals_via_company.amount < 17200'; set('address', String(find('companies', f, {}, 5).length))`, "?<", ""},
	}
	// Refused filters are held in a variable: as literals they are refused at save
	// (TestScriptNamesCheckedAtSave); here the guard at run time is tested.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, workflows.Config{})
			if _, err := schemas.StoredSecret(e.app, "unsubscribe"); err != nil {
				t.Fatal(err)
			}
			co := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Shared"})
			for i := range 34 {
				schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "a" + strconv.Itoa(i), "stage": "lead", "amount": 100, "owner": e.alice.Id, "company": co.Id})
			}
			for i := range 40 { // newer than all of alice's
				schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "b" + strconv.Itoa(i), "stage": "lead", "amount": 17200, "owner": e.bob.Id, "company": co.Id})
			}
			src := strings.ReplaceAll(tt.source, "{alice}", e.alice.Id)
			e.save(t, `{"name": "s", "enabled": true, "object": "companies", "trigger": {"type": "record_created"}, `+tt.runAs+`
			  "actions": [{"type": "script", "source": `+jsonOf(src)+`}]}`)
			st, out := e.api(t, http.MethodPost, "/api/collections/companies/records", e.mgrTok, map[string]any{"name": "Trigger"})
			if st != 200 {
				t.Fatalf("create company: %d %v", st, out)
			}
			e.drain(t)
			run := e.runs(t, "")[0]
			if tt.wantErr != "" {
				if run.GetString("status") != workflows.StatusFailed || !strings.Contains(run.GetString("error"), tt.wantErr) {
					t.Fatalf("status %s, error %q; want failed with %q", run.GetString("status"), run.GetString("error"), tt.wantErr)
				}
				return
			}
			if run.GetString("status") != workflows.StatusSucceeded {
				t.Fatalf("status %s: %s", run.GetString("status"), run.GetString("error"))
			}
			c, err := e.app.FindRecordById("companies", out["id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.GetString("address"); got != tt.wantAddr {
				t.Fatalf("script saw %q, want %q", got, tt.wantAddr)
			}
		})
	}
}

// TestRunAsCannotLinkInvisible: a run-as user cannot link, through a workflow, a record they
// may not view (finding 2a, workflow writes); the system actor can.
func TestRunAsCannotLinkInvisible(t *testing.T) {
	for _, tt := range []struct {
		name, runAs, wantStatus string
	}{
		{"run as alice", `"runAs": "alice@example.com",`, workflows.StatusFailed},
		{"the system", ``, workflows.StatusSucceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, workflows.Config{})
			bobs := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Bob's", "stage": "lead", "owner": e.bob.Id})
			e.save(t, `{"name": "s", "enabled": true, "object": "companies", "trigger": {"type": "record_created"}, `+tt.runAs+`
			  "actions": [{"type": "create_record", "object": "activities", "values": {"type": "note", "subject": "probe", "deal": "`+bobs.Id+`", "owner": "`+e.alice.Id+`"}}]}`)
			if st, out := e.api(t, http.MethodPost, "/api/collections/companies/records", e.mgrTok, map[string]any{"name": "Trigger"}); st != 200 {
				t.Fatalf("create company: %d %v", st, out)
			}
			e.drain(t)
			run := e.runs(t, "")[0]
			if run.GetString("status") != tt.wantStatus {
				t.Fatalf("status %s (%s), want %s", run.GetString("status"), run.GetString("error"), tt.wantStatus)
			}
			if tt.wantStatus == workflows.StatusFailed && !strings.Contains(run.GetString("error"), `"deal"`) {
				t.Errorf("the error does not name the field: %s", run.GetString("error"))
			}
		})
	}
}
