package schemas_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// runCmd runs a Relata command (as `relata ARGS…`) on app with cfg and returns its output.
func runCmd(t *testing.T, app core.App, cfg schemas.Config, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "relata", SilenceErrors: true}
	if _, err := schemas.Register(app, root, cfg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// restart closes app and opens its data directory again, as a new `relata` process would.
func restart(t *testing.T, app *core.BaseApp, dataDir string) *core.BaseApp {
	t.Helper()
	_ = app.ResetBootstrapState()
	return openApp(t, dataDir)
}

// syncAsServe does what `serve` does at start with cfg: load, apply, merge.
func syncAsServe(t *testing.T, app core.App, cfg schemas.Config) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Register(app, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Sync(); err != nil {
		t.Fatalf("serve refuses to start: %v", err)
	}
	return reg
}

// dashboardFields are fields as the PocketBase dashboard creates them (its defaults: a text
// field has max 0, a number no limits).
var dashboardFields = []map[string]any{
	{"name": "region", "type": "text"},
	{"name": "score", "type": "number"},
	{"name": "vip", "type": "bool"},
	{"name": "renewal", "type": "date"},
	{"name": "billing_email", "type": "email"},
	{"name": "tier", "type": "select", "values": []string{"gold", "silver"}, "maxSelect": 1},
	{"name": "summary", "type": "text", "max": 20000},
}

// TestSchemaRoundTripFromDefaults follows the README with the default setup: serve the
// embedded model, add fields in the dashboard (one holding data), export; the next start
// must not refuse, a dashboard text field stays text, and exporting then diffing shows no
// change nobody made.
func TestSchemaRoundTripFromDefaults(t *testing.T) {
	dataDir := t.TempDir()
	home := filepath.Join(t.TempDir(), "pb_schemas") // does not exist yet
	cfg := schemas.Config{DefaultDir: home}

	app := openApp(t, dataDir)
	reg := schemas.MustRegister(app, nil, cfg)
	srv := serve(t, app)
	su := superuserToken(t, app)
	api := func(method, path string, body, out any) int { return call(t, srv, method, path, su, body, out) }
	for _, f := range dashboardFields {
		addFieldAsDashboard(t, api, "deals", f)
	}
	var rec map[string]any
	if code := api(http.MethodPost, "/api/collections/deals/records", map[string]any{"name": "Big one", "stage": "lead", "region": "north"}, &rec); code != http.StatusOK {
		t.Fatalf("create deal: %d %v", code, rec)
	}
	deals, _ := reg.Object("deals")
	for name, want := range map[string]string{"region": schemas.TypeText, "summary": schemas.TypeLongText, "score": schemas.TypeNumber,
		"vip": schemas.TypeBoolean, "renewal": schemas.TypeDateTime, "billing_email": schemas.TypeEmail, "tier": schemas.TypeSelect} {
		if f := deals.Field(name); f == nil || f.Type != want {
			t.Errorf("dashboard field deals.%s in the live model: %+v, want type %s", name, f, want)
		}
	}
	srv.Close()

	// Export elsewhere: files written, the server's definitions untouched; the next start works.
	other := t.TempDir()
	app = restart(t, app, dataDir)
	out, err := runCmd(t, app, cfg, "schema", "export", other)
	if err != nil {
		t.Fatalf("export %s: %v\n%s", other, err, out)
	}
	if !strings.Contains(out, "--schemasDir "+other) {
		t.Errorf("export elsewhere does not say how to use the files:\n%s", out)
	}
	data, err := os.ReadFile(filepath.Join(other, "deals.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"name": "region",`+"\n"+`      "type": "text"`) {
		t.Errorf("deals.region is not exported as text:\n%s", data)
	}
	app = restart(t, app, dataDir)
	syncAsServe(t, app, cfg)
	// The exported directory serves too, with nothing to apply.
	app = restart(t, app, dataDir)
	assertInSync(t, app, other)
	syncAsServe(t, app, schemas.Config{Dir: other})

	// Export with no directory: into the default directory, which the next start reads.
	app = restart(t, app, dataDir)
	if out, err := runCmd(t, app, cfg, "schema", "export"); err != nil || !strings.Contains(out, filepath.Join(home, "deals.json")) {
		t.Fatalf("export to the default directory: %v\n%s", err, out)
	}
	app = restart(t, app, dataDir)
	reg = syncAsServe(t, app, cfg)
	if reg.Dir() != home {
		t.Errorf("serve reads %q, want the exported %q", reg.Dir(), home)
	}
	deals, _ = reg.Object("deals")
	if f := deals.Field("region"); f == nil || f.Type != schemas.TypeText {
		t.Errorf("deals.region after export and restart: %+v", f)
	}
	assertInSync(t, app, home)
	got, err := app.FindRecordById("deals", rec["id"].(string))
	if err != nil || got.GetString("region") != "north" {
		t.Fatalf("the value of the dashboard field is lost: %v %v", got, err)
	}
}

// assertInSync checks that diffing dir against the database shows no change at all.
func assertInSync(t *testing.T, app core.App, dir string) {
	t.Helper()
	defs, err := schemas.Load(os.DirFS(dir))
	if err != nil {
		t.Fatalf("%s does not load: %v", dir, err)
	}
	p, err := schemas.NewPlan(app, defs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		t.Errorf("%s and the database differ: %s", dir, c)
	}
}

func TestInitWritesTheDefaultsOnce(t *testing.T) {
	app := openApp(t, t.TempDir())
	home := filepath.Join(t.TempDir(), "pb_schemas")
	cfg := schemas.Config{DefaultDir: home}
	if out, err := runCmd(t, app, cfg, "init"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	objs, err := schemas.Load(os.DirFS(home))
	if err != nil || len(objs) != len(defaults(t)) {
		t.Fatalf("init wrote %d objects (%v), want the %d defaults", len(objs), err, len(defaults(t)))
	}
	reg := syncAsServe(t, app, cfg)
	if reg.Dir() != home {
		t.Errorf("serve reads %q after init, want %q", reg.Dir(), home)
	}
	out, err := runCmd(t, app, cfg, "init")
	if err == nil || !strings.Contains(err.Error(), home) || !strings.Contains(err.Error(), "nothing written") {
		t.Errorf("a second init must refuse, naming the directory: %v\n%s", err, out)
	}
}
