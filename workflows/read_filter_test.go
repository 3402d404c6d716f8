package workflows_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestDryRunFiltersAreNoOracle: a manager's dry run (POST /api/relata/workflows/test) of a
// for_each or a script's find filtered through relations answered "1 item" or "0 items" for
// what no REST read tells a manager: colleagues' hidden emails, their API tokens' names and
// hints, their private saved views. The system actor's reads run without rules, and running
// as an admin (any manager may name one as runAs) reached every user's API tokens. Each filter is tried
// with a true and a false guess of the same length: the answers must be the same.
func TestDryRunFiltersAreNoOracle(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	carol, _ := schemastest.NewUser(t, e.app, "carol.hidden@example.com", "sales", "south")
	admin, _ := schemastest.NewUser(t, e.app, "admin@example.com", "admin", "")
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "D", "stage": "lead", "owner": carol.Id})
	schemastest.MustCreate(t, e.app, "api_tokens", map[string]any{"user": carol.Id, "name": "Zapier", "hash": "0123", "hint": "rlt_9f3a", "scope": "write"})
	schemastest.MustCreate(t, e.app, "saved_views", map[string]any{"owner": carol.Id, "name": "private pipeline", "object": "deals"})

	// What REST tells the manager: nothing.
	for _, f := range []string{`owner.email = "carol.hidden@example.com"`, `owner.api_tokens_via_user.hint ?~ "rlt_9"`, `owner.saved_views_via_owner.name ?~ "private"`} {
		var list struct{ TotalItems int }
		if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/collections/deals/records?filter="+url.QueryEscape(f), e.mgrTok, nil, &list); code != 200 && code != 400 || list.TotalItems != 0 {
			t.Fatalf("REST %s = %d, %d items; the test assumes REST hides it", f, code, list.TotalItems)
		}
	}

	script := func(runAs, filter string) string {
		// the filter is held in a variable, so that it reaches the run, not only the save check
		return `{"name": "probe", "object": "deals", "trigger": {"type": "manual"}, ` + runAs + `
		  "actions": [{"type": "script", "source": ` + jsonOf("const f = "+jsonOf(filter)+"; find('deals', f, {}, 5).length") + `}]}`
	}
	forEach := func(runAs, filter string) string {
		return `{"name": "probe", "object": "deals", "trigger": {"type": "manual"}, ` + runAs + `
		  "actions": [{"type": "for_each", "over": {"object": "deals", "filter": ` + jsonOf(filter) + `},
		    "actions": [{"type": "update_record", "target": "item", "values": {"description": "x"}}]}]}`
	}
	asAdmin := `"runAs": "` + admin.Email() + `",`
	tests := []struct {
		name      string
		def       func(runAs, filter string) string
		runAs     string
		yes, no   string // a filter that holds for the deal, and one that does not
		forbidden string // in the answer: what it names
	}{
		{"system find by a hidden email", script, "", `owner.email = "carol.hidden@example.com"`, `owner.email = "aaaaa.hidden@example.com"`, "emails of users are hidden"},
		{"system find by a hidden email, bisected", script, "", `owner.email ~ "carol.h%"`, `owner.email ~ "carol.x%"`, "emails of users are hidden"},
		{"system for_each by a hidden email", forEach, "", `owner.email:lower = "carol.hidden@example.com"`, `owner.email:lower = "aaaaa.hidden@example.com"`, "emails of users are hidden"},
		{"system find through API tokens", script, "", `owner.api_tokens_via_user.hint ?~ "rlt_9"`, `owner.api_tokens_via_user.hint ?~ "rlt_0"`, "not api_tokens"},
		{"system for_each through private saved views", forEach, "", `owner.saved_views_via_owner.name ?~ "private"`, `owner.saved_views_via_owner.name ?~ "public"`, "not saved_views"},
		{"run as an admin through API tokens", script, asAdmin, `owner.api_tokens_via_user.name ?= "Zapier"`, `owner.api_tokens_via_user.name ?= "Zapiex"`, "not api_tokens"},
		// not an oracle but a cost: two back-relations compare every record pointing back at
		// every record pointing back (schemas.MaxBackRelations holds for the system too)
		{"system for_each through two back-relations", forEach, "", `company.deals_via_company.company.deals_via_company.name ?= "D"`,
			`company.deals_via_company.company.deals_via_company.name ?= "E"`, "2 back-relations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer := func(filter string) string {
				t.Helper()
				code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok,
					map[string]any{"definition": jsonRaw(tt.def(tt.runAs, filter)), "recordId": deal.Id})
				if code != 200 && code != 400 {
					t.Fatalf("test = %d %v", code, rep)
				}
				return jsonOf(rep)
			}
			yes, no := answer(tt.yes), answer(tt.no)
			if yes != no {
				t.Errorf("the dry run tells a true guess from a false one:\n true:  %s\n false: %s", yes, no)
			}
			if !strings.Contains(yes, tt.forbidden) {
				t.Errorf("answer %s; want it to say %q", yes, tt.forbidden)
			}
		})
	}
}
