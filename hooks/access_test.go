package hooks_test

import (
	"net/http"
	"testing"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas/schemastest"
)

// TestAccessRules drives the REST API with real user tokens: sales users reach only what
// they own (deals) or what their team owns (contacts); managers and admins reach all;
// anonymous callers reach nothing.
func TestAccessRules(t *testing.T) {
	env := newEnv(t)
	app, srv := env.app, env.srv
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	bob, bobTok := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	_, carolTok := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", "admin", "")

	bobDeal := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Bob's deal", "stage": "lead", "owner": bob.Id})
	aliceDeal := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Alice's deal", "stage": "lead", "owner": alice.Id})
	bobContact := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Bob's contact", "owner": bob.Id})
	schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Shared Co", "owner": bob.Id})

	deal := "/api/collections/deals/records/" + bobDeal.Id
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		total  int // for lists: expected totalItems (-1 to skip)
	}{
		{"anonymous lists no deals", http.MethodGet, "/api/collections/deals/records", "", nil, 200, 0},
		{"anonymous cannot view a deal", http.MethodGet, deal, "", nil, 404, -1},
		{"anonymous cannot list users", http.MethodGet, "/api/collections/users/records", "", nil, 200, 0},
		{"sales lists only own deals", http.MethodGet, "/api/collections/deals/records", aliceTok, nil, 200, 1},
		{"sales cannot view another's deal", http.MethodGet, deal, aliceTok, nil, 404, -1},
		{"sales cannot edit another's deal", http.MethodPatch, deal, aliceTok, map[string]any{"name": "mine now"}, 404, -1},
		{"sales cannot delete another's deal", http.MethodDelete, deal, aliceTok, nil, 404, -1},
		{"sales cannot filter their way to another's deal", http.MethodGet, "/api/collections/deals/records?filter=" + urlq(`owner="`+bob.Id+`"`), aliceTok, nil, 200, 0},
		{"sales cannot create a deal for someone else", http.MethodPost, "/api/collections/deals/records", aliceTok, map[string]any{"name": "x", "stage": "lead", "owner": bob.Id}, 400, -1},
		{"sales cannot hand over own deal", http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id, aliceTok, map[string]any{"owner": bob.Id}, 403, -1}, // refused with its reason (refusal.go)
		{"sales edits own deal", http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id, aliceTok, map[string]any{"stage": "qualified"}, 200, -1},
		{"owner views own deal", http.MethodGet, deal, bobTok, nil, 200, -1},
		{"team mate sees team contact", http.MethodGet, "/api/collections/contacts/records/" + bobContact.Id, aliceTok, nil, 200, -1},
		{"other team does not see it", http.MethodGet, "/api/collections/contacts/records/" + bobContact.Id, carolTok, nil, 404, -1},
		{"everyone signed in sees shared companies", http.MethodGet, "/api/collections/companies/records", carolTok, nil, 200, 1},
		{"sales cannot delete a company", http.MethodDelete, "/api/collections/companies/records/" + firstID(t, env, "companies"), carolTok, nil, 403, -1}, // visible: refused with its reason
		{"manager lists all deals", http.MethodGet, "/api/collections/deals/records", mgrTok, nil, 200, 2},
		{"manager views another's deal", http.MethodGet, deal, mgrTok, nil, 200, -1},
		{"manager edits another's deal", http.MethodPatch, deal, mgrTok, map[string]any{"stage": "proposal"}, 200, -1},
		{"manager reassigns a deal", http.MethodPatch, deal, mgrTok, map[string]any{"owner": alice.Id}, 200, -1},
		{"admin sees all contacts", http.MethodGet, "/api/collections/contacts/records", adminTok, nil, 200, 1},
		{"sales cannot make themselves admin", http.MethodPatch, "/api/collections/users/records/" + alice.Id, aliceTok, map[string]any{"role": "admin"}, 404, -1},
		{"nobody signs up alone", http.MethodPost, "/api/collections/users/records", "", map[string]any{"email": "x@example.com", "password": "password-123", "passwordConfirm": "password-123", "role": "admin"}, 400, -1},
		{"admin creates users", http.MethodPost, "/api/collections/users/records", adminTok, map[string]any{"email": "dan@example.com", "password": "password-123", "passwordConfirm": "password-123", "role": "sales"}, 200, -1},
		{"manager deletes the deal", http.MethodDelete, deal, mgrTok, nil, 204, -1},
	}
	for _, tt := range tests {
		// Sequential: later scenarios rely on earlier state (the manager deletes last).
		var out map[string]any
		code := schemastest.Call(t, srv, tt.method, tt.path, tt.token, tt.body, &out)
		if code != tt.status {
			t.Errorf("%s: %s %s = %d; want %d (%v)", tt.name, tt.method, tt.path, code, tt.status, out)
			continue
		}
		if tt.total >= 0 {
			if got := int(out["totalItems"].(float64)); got != tt.total {
				t.Errorf("%s: totalItems = %d; want %d", tt.name, got, tt.total)
			}
		}
	}
	// The refused calls changed nothing.
	if r, err := app.FindRecordById("deals", aliceDeal.Id); err != nil || r.GetString("owner") != alice.Id {
		t.Errorf("alice's deal changed hands: %v %v", r, err)
	}
}

func TestSalesCreateBecomesOwner(t *testing.T) {
	env := newEnv(t)
	alice, tok := schemastest.NewUser(t, env.app, "alice@example.com", "sales", "")
	var out map[string]any
	if code := schemastest.Call(t, env.srv, http.MethodPost, "/api/collections/deals/records", tok, map[string]any{"name": "New"}, &out); code != 200 {
		t.Fatalf("create = %d %v", code, out)
	}
	if out["owner"] != alice.Id {
		t.Errorf("owner = %v; want the creator %s", out["owner"], alice.Id)
	}
	if out["stage"] != "lead" || out["amount_currency"] != "EUR" {
		t.Errorf("defaults not applied: stage=%v currency=%v", out["stage"], out["amount_currency"])
	}
}

func urlq(s string) string { return encodeQuery(s) }
