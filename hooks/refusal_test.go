package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
)

// TestRefusalReasons: a request the access rules refuse says which rule and what to do, with
// the field at fault in data, and reveals nothing of records the user cannot view.
func TestRefusalReasons(t *testing.T) {
	env := newEnv(t)
	app, srv := env.app, env.srv
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	aliceDeal := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Alice's deal", "stage": "lead", "owner": alice.Id})
	bobDeal := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Bob's secret deal", "stage": "lead", "owner": bob.Id})
	company := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Shared Co", "owner": bob.Id})

	type answer struct {
		Message string                       `json:"message"`
		Data    map[string]map[string]string `json:"data"`
	}
	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		message, field            string // in the message; the field at fault in data ("" for none)
	}{
		{"sales creates a deal for bob", http.MethodPost, "/api/collections/deals/records", aliceTok,
			map[string]any{"name": "x", "stage": "lead", "owner": bob.Id}, 400,
			"sales users can only create deals they own: leave owner empty or set it to yourself", "owner"},
		{"sales creates a contact for bob", http.MethodPost, "/api/collections/contacts/records", aliceTok,
			map[string]any{"full_name": "x", "owner": bob.Id}, 400, "can only create contacts they own", "owner"},
		{"sales hands own deal over", http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id, aliceTok,
			map[string]any{"owner": bob.Id}, 403, "sales users cannot hand deals over to someone else", "owner"},
		{"sales clears the owner of own deal", http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id, aliceTok,
			map[string]any{"owner": ""}, 403, "cannot hand deals over", "owner"},
		{"sales deletes a shared company", http.MethodDelete, "/api/collections/companies/records/" + company.Id, aliceTok,
			nil, 403, "only admins and managers can delete companies", ""},
		{"anonymous creates a deal", http.MethodPost, "/api/collections/deals/records", "",
			map[string]any{"name": "x", "stage": "lead"}, 401, "sign in as a CRM user to create deals", ""},
		// Out of reach stays a plain 404: no hint that bob's deal exists.
		{"sales edits bob's deal", http.MethodPatch, "/api/collections/deals/records/" + bobDeal.Id, aliceTok,
			map[string]any{"owner": alice.Id}, 404, "", ""},
		{"sales deletes bob's deal", http.MethodDelete, "/api/collections/deals/records/" + bobDeal.Id, aliceTok, nil, 404, "", ""},
		// Not refusals of the rules: unchanged.
		{"a validation error keeps its data", http.MethodPost, "/api/collections/deals/records", aliceTok,
			map[string]any{"stage": "lead"}, 400, "Failed to create record", "name"},
		{"manager creates a deal for bob", http.MethodPost, "/api/collections/deals/records", mgrTok,
			map[string]any{"name": "y", "stage": "lead", "owner": bob.Id}, 200, "", ""},
		{"sales creates own deal", http.MethodPost, "/api/collections/deals/records", aliceTok,
			map[string]any{"name": "z", "stage": "lead", "owner": alice.Id}, 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got answer
			code := schemastest.Call(t, srv, tc.method, tc.path, tc.token, tc.body, &got)
			if code != tc.status {
				t.Fatalf("status = %d, want %d: %+v", code, tc.status, got)
			}
			if !strings.Contains(strings.ToLower(got.Message), strings.ToLower(tc.message)) {
				t.Errorf("message = %q, want %q", got.Message, tc.message)
			}
			if strings.Contains(got.Message, "secret") || strings.Contains(got.Message, bobDeal.Id) {
				t.Errorf("message reveals data: %q", got.Message)
			}
			if tc.field != "" && got.Data[tc.field]["message"] == "" {
				t.Errorf("data lacks %s: %+v", tc.field, got.Data)
			}
			if tc.status != 200 && tc.field == "owner" && len(got.Data) != 1 {
				t.Errorf("data names more than the field at fault: %+v", got.Data)
			}
		})
	}
}
