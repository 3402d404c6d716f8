package hooks_test

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
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
		Message string                    `json:"message"`
		Data    map[string]map[string]any `json:"data"`
	}
	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		message, field            string // in the message; the field at fault in data ("" for none)
		code                      string // the refusal's code in data, with its params for a client's wording
		params                    map[string]any
	}{
		{"sales creates a deal for bob", http.MethodPost, "/api/collections/deals/records", aliceTok,
			map[string]any{"name": "x", "stage": "lead", "owner": bob.Id}, 400,
			"sales users can only create deals they own: leave owner empty or set it to yourself", "owner",
			schemas.RefusalCreateOwned, map[string]any{"role": "sales", "object": "deals", "field": "owner"}},
		{"sales creates a contact for bob", http.MethodPost, "/api/collections/contacts/records", aliceTok,
			map[string]any{"full_name": "x", "owner": bob.Id}, 400, "can only create contacts they own", "owner",
			schemas.RefusalCreateOwned, map[string]any{"role": "sales", "object": "contacts", "field": "owner"}},
		{"sales hands own deal over", http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id, aliceTok,
			map[string]any{"owner": bob.Id}, 403, "sales users cannot hand deals over to someone else", "owner",
			schemas.RefusalHandOver, map[string]any{"role": "sales", "object": "deals", "field": "owner"}},
		{"sales clears the owner of own deal", http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id, aliceTok,
			map[string]any{"owner": ""}, 403, "cannot hand deals over", "owner", schemas.RefusalHandOver, nil},
		{"sales deletes a shared company", http.MethodDelete, "/api/collections/companies/records/" + company.Id, aliceTok,
			nil, 403, "only admins and managers can delete companies", "id",
			schemas.RefusalDeleteRoles, map[string]any{"roles": "admin,manager", "object": "companies"}},
		{"anonymous creates a deal", http.MethodPost, "/api/collections/deals/records", "",
			map[string]any{"name": "x", "stage": "lead"}, 401, "sign in as a CRM user to create deals", "", "", nil},
		// Out of reach stays a plain 404: no hint that bob's deal exists.
		{"sales edits bob's deal", http.MethodPatch, "/api/collections/deals/records/" + bobDeal.Id, aliceTok,
			map[string]any{"owner": alice.Id}, 404, "", "", "", nil},
		{"sales deletes bob's deal", http.MethodDelete, "/api/collections/deals/records/" + bobDeal.Id, aliceTok, nil, 404, "", "", "", nil},
		// Not refusals of the rules: unchanged.
		{"a validation error keeps its data", http.MethodPost, "/api/collections/deals/records", aliceTok,
			map[string]any{"stage": "lead"}, 400, "Failed to create record", "name", "validation_required", nil},
		{"manager creates a deal for bob", http.MethodPost, "/api/collections/deals/records", mgrTok,
			map[string]any{"name": "y", "stage": "lead", "owner": bob.Id}, 200, "", "", "", nil},
		{"sales creates own deal", http.MethodPost, "/api/collections/deals/records", aliceTok,
			map[string]any{"name": "z", "stage": "lead", "owner": alice.Id}, 200, "", "", "", nil},
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
			if tc.field != "" && got.Data[tc.field]["message"] == nil {
				t.Errorf("data lacks %s: %+v", tc.field, got.Data)
			}
			if tc.code != "" && got.Data[tc.field]["code"] != tc.code {
				t.Errorf("data's code = %v, want %s", got.Data[tc.field]["code"], tc.code)
			}
			if tc.params != nil && !reflect.DeepEqual(got.Data[tc.field]["params"], tc.params) {
				t.Errorf("data's params = %v, want %v", got.Data[tc.field]["params"], tc.params)
			}
			if tc.status != 200 && tc.field == "owner" && len(got.Data) != 1 {
				t.Errorf("data names more than the field at fault: %+v", got.Data)
			}
		})
	}
}

// TestRefusalReasonsCustomObject: an object defined in a file gets its reasons from its own
// access policy and labels, as its rules come from the same place.
func TestRefusalReasonsCustomObject(t *testing.T) {
	dir := t.TempDir()
	defs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range defs {
		b, _ := schemas.Marshal(o)
		if err := os.WriteFile(filepath.Join(dir, o.Name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "projects.json"), []byte(`{
  "name": "projects", "label": {"singular": "Project", "plural": "Projects"}, "titleField": "title",
  "fields": [{"name": "title", "type": "text", "required": true}, {"name": "lead", "type": "owner"}],
  "access": {"scope": "team", "ownerField": "lead", "deleteRoles": ["manager"]}
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: dir})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	srv := schemastest.Serve(t, app)
	_, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	teamProject := schemastest.MustCreate(t, app, "projects", map[string]any{"title": "Team project", "lead": bob.Id})

	var got struct {
		Message string                    `json:"message"`
		Data    map[string]map[string]any `json:"data"`
	}
	code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/projects/records", aliceTok, map[string]any{"title": "x", "lead": bob.Id}, &got)
	if code != 400 || !strings.Contains(got.Message, "sales users can only create projects they own: leave lead empty") || got.Data["lead"]["message"] == nil {
		t.Errorf("create for bob = %d %+v", code, got)
	}
	code = schemastest.Call(t, srv, http.MethodDelete, "/api/collections/projects/records/"+teamProject.Id, aliceTok, nil, &got)
	if code != 403 || !strings.Contains(got.Message, "only admins and managers can delete projects") {
		t.Errorf("delete a team project = %d %+v", code, got)
	}
}
