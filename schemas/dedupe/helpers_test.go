package dedupe_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// env is Relata's default model with hooks (audit, trash), the workflow engine (workers
// stopped) and dedupe on a fresh app served on loopback, with users alice (sales, north),
// carol (sales, south), mgr (manager) and a superuser.
type env struct {
	app *core.BaseApp
	reg *schemas.Registry
	svc *dedupe.Service
	srv *httptest.Server
	su  string

	alice, carol, mgr          *core.Record
	aliceTok, carolTok, mgrTok string
}

func newEnv(t testing.TB, cfg dedupe.Config) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	cfg.Registry = reg
	svc := dedupe.MustRegister(app, nil, cfg)
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)
	e := &env{app: app, reg: reg, svc: svc, srv: srv, su: schemastest.SuperuserToken(t, app)}
	e.alice, e.aliceTok = schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	e.carol, e.carolTok = schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	e.mgr, e.mgrTok = schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	return e
}

func (e *env) create(t testing.TB, collection string, values map[string]any) *core.Record {
	t.Helper()
	return schemastest.MustCreate(t, e.app, collection, values)
}

// raw saves a row of a system collection with only the given values (no validation).
func (e *env) raw(t testing.TB, collection string, values map[string]any) *core.Record {
	t.Helper()
	coll, err := e.app.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(coll)
	for k, v := range values {
		r.Set(k, v)
	}
	if err := e.app.SaveNoValidate(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) get(t testing.TB, collection, id string) *core.Record {
	t.Helper()
	r, err := e.app.FindRecordById(collection, id)
	if err != nil {
		t.Fatalf("%s %s: %v", collection, id, err)
	}
	return r
}
