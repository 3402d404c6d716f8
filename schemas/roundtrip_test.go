package schemas_test

import (
	"errors"
	"slices"

	"github.com/pocketbase/pocketbase/core"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
)

// addFieldAsDashboard adds a field to a collection the way the PocketBase dashboard does:
// it reads the collection and PATCHes it back with one more field, as a superuser.
func addFieldAsDashboard(t *testing.T, call func(method, path string, body, out any) int, collection string, field map[string]any) {
	t.Helper()
	var coll map[string]any
	if code := call(http.MethodGet, "/api/collections/"+collection, nil, &coll); code != http.StatusOK {
		t.Fatalf("GET collection: %d", code)
	}
	coll["fields"] = append(coll["fields"].([]any), field)
	var out map[string]any
	if code := call(http.MethodPatch, "/api/collections/"+collection, coll, &out); code != http.StatusOK {
		t.Fatalf("PATCH collection: %d %v", code, out)
	}
}

func TestDashboardFieldRoundTrip(t *testing.T) {
	dataDir, filesDir := t.TempDir(), t.TempDir()
	for _, o := range defaults(t) {
		data, _ := schemas.Marshal(o)
		if err := os.WriteFile(filepath.Join(filesDir, o.Name+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// First run: the files are applied at start; an admin adds a field in the dashboard.
	app := openApp(t, dataDir)
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: filesDir})
	srv := serve(t, app)
	su := superuserToken(t, app)
	api := func(method, path string, body, out any) int { return call(t, srv, method, path, su, body, out) }
	addFieldAsDashboard(t, api, "contacts", map[string]any{"name": "linkedin", "type": "url", "help": "Profile URL"})
	addFieldAsDashboard(t, api, "deals", map[string]any{"name": "priority", "type": "select", "values": []string{"low", "high"}, "maxSelect": 1})

	contacts, _ := reg.Object("contacts")
	if f := contacts.Field("linkedin"); f == nil || f.Type != schemas.TypeURL || f.Help != "Profile URL" {
		t.Fatalf("the live model does not have the dashboard field: %+v", f)
	}
	var rec map[string]any
	if code := api(http.MethodPost, "/api/collections/contacts/records", map[string]any{"full_name": "Ada", "linkedin": "https://linkedin.com/in/ada"}, &rec); code != http.StatusOK {
		t.Fatalf("create with dashboard field: %d %v", code, rec)
	}

	// Restart: the files did not change; the dashboard fields and their data survive.
	srv.Close()
	_ = app.ResetBootstrapState()
	app = openApp(t, dataDir)
	reg = schemas.MustRegister(app, nil, schemas.Config{Dir: filesDir})
	serve(t, app)
	contacts, _ = reg.Object("contacts")
	if contacts.Field("linkedin") == nil {
		t.Fatal("the dashboard field is gone from the model after a restart")
	}
	got, err := app.FindRecordById("contacts", rec["id"].(string))
	if err != nil || got.GetString("linkedin") != "https://linkedin.com/in/ada" {
		t.Fatalf("dashboard field value lost after restart: %v %v", got, err)
	}

	// diff reports the dashboard edits; export writes them into the files; then all is in sync.
	defs, err := schemas.Load(os.DirFS(filesDir))
	if err != nil {
		t.Fatal(err)
	}
	p, err := schemas.NewPlan(app, defs)
	if err != nil {
		t.Fatal(err)
	}
	var diff []string
	for _, c := range p.Changes {
		diff = append(diff, c.String())
	}
	for _, want := range []string{"dashboard edit contacts.linkedin: added in the dashboard (url)", "dashboard edit deals.priority: added in the dashboard (select)"} {
		if !strings.Contains(strings.Join(diff, "\n"), want) {
			t.Errorf("diff lacks %q:\n%s", want, strings.Join(diff, "\n"))
		}
	}
	if p.Pending() {
		t.Errorf("dashboard-only edits should leave nothing to apply: %v", diff)
	}
	if _, err := schemas.Export(app, filesDir, reg.Objects()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(filesDir, "contacts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"name": "linkedin"`) || !strings.Contains(string(data), `"help": "Profile URL"`) {
		t.Errorf("export did not write the dashboard field:\n%s", data)
	}
	defs, err = schemas.Load(os.DirFS(filesDir))
	if err != nil {
		t.Fatalf("exported files do not load: %v", err)
	}
	if f := find(defs, "deals").Field("priority"); f == nil || strings.Join(f.OptionValues(), ",") != "low,high" {
		t.Errorf("exported deals.priority = %+v", f)
	}
	p, err = schemas.NewPlan(app, defs)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 0 {
		t.Errorf("after export the files and database still differ: %v", p.Changes)
	}
}

func TestDashboardEditsAreNotOverwritten(t *testing.T) {
	app := openApp(t, t.TempDir())
	applyObjs(t, app, defaults(t), false)

	// The dashboard adds an option to contacts.source.
	coll, _ := app.FindCollectionByNameOrId("contacts")
	sel := coll.Fields.GetByName("source").(*core.SelectField)
	sel.Values = append(sel.Values, "webinar")
	if err := app.Save(coll); err != nil {
		t.Fatal(err)
	}

	// The files did not change that field: applying keeps the dashboard's option.
	p := applyObjs(t, app, defaults(t), false)
	if !slices.ContainsFunc(p.Changes, func(c *schemas.Change) bool { return c.Kind == schemas.DashboardEdit && c.Field == "source" }) {
		t.Errorf("plan does not report the dashboard edit: %v", p.Changes)
	}
	coll, _ = app.FindCollectionByNameOrId("contacts")
	if !slices.Contains(coll.Fields.GetByName("source").(*core.SelectField).Values, "webinar") {
		t.Fatal("apply overwrote the option added in the dashboard")
	}
	merged, err := schemas.Merge(app, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if !find(merged, "contacts").Field("source").HasOption("webinar") {
		t.Error("the live model lacks the dashboard option")
	}

	// The files change the same field another way: a conflict, refused unless forced.
	objs := defaults(t)
	f := find(objs, "contacts").Field("source")
	f.Options = slices.DeleteFunc(f.Options, func(o schemas.Option) bool { return o.Value == "other" })
	p, err = schemas.NewPlan(app, objs)
	if err != nil {
		t.Fatal(err)
	}
	_, err = schemas.Apply(app, p, schemas.ApplyOptions{})
	var refused *schemas.RefusedError
	if !errors.As(err, &refused) || !refused.Changes[0].Conflict {
		t.Fatalf("conflicting edit was not refused as a conflict: %v", err)
	}
	if !strings.Contains(err.Error(), "changed both in the file and in the dashboard") {
		t.Errorf("refusal does not explain the conflict: %v", err)
	}
}
