package forms_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
)

// TestWebForms: forms written in the form editor are stored in web_forms through the
// collection's REST API, checked exactly like files (located errors), served at once at
// /forms/{slug}, and removed when deleted. Only admins and managers write them; a file form
// keeps its slug.
func TestWebForms(t *testing.T) {
	e := newEnv(t)
	_, managerTok := schemastest.NewUser(t, e.app, "mia@example.com", "manager", "north")
	_, salesTok := schemastest.NewUser(t, e.app, "sam@example.com", "sales", "north")
	open := job(t, e, "Go engineer", "open", 1)
	def := "{\n  \"slug\": \"careers\", \"title\": \"Careers\", \"object\": \"applicants\",\n  \"fields\": [\n    {\"name\": \"full_name\"},\n    {\"name\": \"job\", \"required\": true, \"picker\": {\"filter\": \"status = 'open'\"}}\n  ],\n  \"spam\": {\"minFillSeconds\": 0}\n}\n"
	bad := strings.Replace(def, `"full_name"`, `"ful_name"`, 1)
	badFilter := strings.Replace(def, `status = 'open'`, `statuss = 'open'`, 1)

	type apiErr struct {
		Data map[string]struct {
			Message string `json:"message"`
		} `json:"data"`
	}
	cases := []struct {
		name, token, slug, definition string
		status                        int
		key, want                     string
	}{
		{"sales may not", salesTok, "careers", def, http.StatusBadRequest, "", ""},
		{"anonymous may not", "", "careers", def, http.StatusBadRequest, "", ""},
		{"unknown field, located", managerTok, "careers", bad, http.StatusBadRequest, "definition", `web_forms/careers.json:4 /fields/0/name: "ful_name" is not a field of applicants (did you mean "full_name"?)`},
		{"bad picker filter, located", managerTok, "careers", badFilter, http.StatusBadRequest, "definition", `web_forms/careers.json:5 /fields/1/picker/filter: the picker of "job" cannot list jobs`},
		{"slug differs", managerTok, "jobs", def, http.StatusBadRequest, "definition", `/slug: slug "careers" differs from the record's slug "jobs"`},
		{"a file form's slug", managerTok, "open", strings.Replace(def, `"careers"`, `"open"`, 1), http.StatusBadRequest, "slug", "a form file already has the slug"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out apiErr
			code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/web_forms/records", c.token,
				map[string]any{"slug": c.slug, "definition": c.definition}, &out)
			if code < 400 || c.status == http.StatusBadRequest && code >= 500 {
				t.Fatalf("= %d; want refused", code)
			}
			// (PocketBase capitalizes the first letter of a validation message.)
			if c.key != "" && !strings.Contains(strings.ToLower(out.Data[c.key].Message), strings.ToLower(c.want)) {
				t.Errorf("%s error = %q; want …%s…", c.key, out.Data[c.key].Message, c.want)
			}
			if n := e.count(t, "web_forms", ""); n != 0 {
				t.Errorf("a refused definition was stored")
			}
		})
	}
	if code, _, _ := e.get(t, "/forms/careers"); code != http.StatusNotFound {
		t.Fatalf("GET /forms/careers before saving = %d", code)
	}

	var saved struct {
		ID string `json:"id"`
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/web_forms/records", managerTok,
		map[string]any{"slug": "careers", "definition": def}, &saved); code != http.StatusOK {
		t.Fatalf("manager saves a valid form = %d", code)
	}
	code, html, _ := e.get(t, "/forms/careers")
	if code != http.StatusOK {
		t.Fatalf("GET /forms/careers after saving = %d", code)
	}
	contains(t, "page", html, `<option value="`+open.Id+`">Go engineer</option>`)
	if code, res, _ := e.post(t, "careers", map[string]any{"full_name": "Ann", "job": open.Id}); code != http.StatusOK {
		t.Fatalf("submit to the web form = %d %v", code, res.Errors)
	}
	if code := schemastest.Call(t, e.srv, http.MethodDelete, "/api/collections/web_forms/records/"+saved.ID, managerTok, nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete = %d", code)
	}
	if code, _, _ := e.get(t, "/forms/careers"); code != http.StatusNotFound {
		t.Errorf("GET /forms/careers after deleting = %d; want 404", code)
	}
}

// TestWebFormOwnerNeedsAVisibleEmail: a form's records are owned by the user its owner email
// names, so a manager saving a form with a guessed address would learn, from the owner of
// the next submission, whose hidden address it is. Through the API an owner must be an
// address the editor may read (her own, or one its user shows); an unknown address is refused
// in the same words; a superuser may name anyone; an owner left as it was is not checked again.
func TestWebFormOwnerNeedsAVisibleEmail(t *testing.T) {
	e := newEnv(t)
	mia, miaTok := schemastest.NewUser(t, e.app, "mia@example.com", "manager", "north")
	sam, _ := schemastest.NewUser(t, e.app, "sam@example.com", "sales", "north")
	suTok := schemastest.SuperuserToken(t, e.app)
	def := func(slug, owner string) string {
		return fmt.Sprintf(`{"slug": %q, "title": "Careers", "object": "applicants", "owner": %q, "fields": [{"name": "full_name"}], "spam": {"minFillSeconds": 0}}`, slug, owner)
	}
	save := func(tok, slug, owner string) (int, string) {
		var out struct {
			Data map[string]struct {
				Message string `json:"message"`
			} `json:"data"`
		}
		code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/web_forms/records", tok,
			map[string]any{"slug": slug, "definition": def(slug, owner)}, &out)
		return code, out.Data["definition"].Message
	}
	for _, owner := range []string{sam.Email(), "nobody@example.com"} {
		code, msg := save(miaTok, "careers", owner)
		if code != http.StatusBadRequest || !strings.Contains(msg, `no user shows you the email "`+owner+`"`) {
			t.Errorf("mia names the owner %s = %d %q; want 400 in the same words for both", owner, code, msg)
		}
	}
	if n := e.count(t, "web_forms", ""); n != 0 {
		t.Fatalf("%d refused forms stored", n)
	}
	if code, msg := save(miaTok, "mine", mia.Email()); code != http.StatusOK {
		t.Errorf("mia names herself = %d %q", code, msg)
	}
	if code, msg := save(suTok, "sams", sam.Email()); code != http.StatusOK {
		t.Errorf("a superuser names sam = %d %q", code, msg)
	}
	sam.Set("emailVisibility", true)
	if err := e.app.Save(sam); err != nil {
		t.Fatal(err)
	}
	if code, msg := save(miaTok, "careers", sam.Email()); code != http.StatusOK {
		t.Errorf("mia names sam, who shows his email = %d %q", code, msg)
	}
	sam.Set("emailVisibility", false)
	if err := e.app.Save(sam); err != nil {
		t.Fatal(err)
	}
	// the form keeps its owner when mia edits its title
	var rec struct{ ID string }
	if err := e.app.DB().NewQuery("SELECT id FROM web_forms WHERE slug = 'careers'").Row(&rec.ID); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(def("careers", sam.Email()), `"Careers"`, `"Jobs"`, 1)
	if code := schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/web_forms/records/"+rec.ID, miaTok,
		map[string]any{"definition": edited}, nil); code != http.StatusOK {
		t.Errorf("mia edits the title of a form owned by sam = %d", code)
	}
}
