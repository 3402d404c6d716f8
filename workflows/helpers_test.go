package workflows_test

import (
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// clock is a settable time source for the engine.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	app   *core.BaseApp
	reg   *schemas.Registry
	eng   *workflows.Engine
	srv   *httptest.Server
	clock *clock
	// users by role name: alice (sales, north), bob (sales, north), mgr (manager)
	alice, bob, mgr          *core.Record
	aliceTok, bobTok, mgrTok string
}

// newEnv runs Relata's object model, hooks and engine on a fresh app served on loopback.
// The engine's workers are stopped: tests run queued work with Drain, deterministically.
func newEnv(t testing.TB, cfg workflows.Config) *env {
	t.Helper()
	e := newBareEnv(t, cfg)
	e.alice, e.aliceTok = schemastest.NewUser(t, e.app, "alice@example.com", "sales", "north")
	e.bob, e.bobTok = schemastest.NewUser(t, e.app, "bob@example.com", "sales", "north")
	e.mgr, e.mgrTok = schemastest.NewUser(t, e.app, "mgr@example.com", "manager", "")
	return e
}

// newBareEnv is newEnv without users.
func newBareEnv(t testing.TB, cfg workflows.Config) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	c := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	cfg.Registry = reg
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Minute
	}
	eng := workflows.MustRegister(app, nil, cfg)
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)
	return &env{app: app, reg: reg, eng: eng, srv: srv, clock: c}
}

// save stores a workflow definition written as JSON and fails the test if it is refused.
func (e *env) save(t testing.TB, def string) *core.Record {
	t.Helper()
	d, err := workflows.Parse("test", []byte(def))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	rec, err := e.eng.Save(e.app, d)
	if err != nil {
		t.Fatalf("save workflow: %v", err)
	}
	return rec
}

// drain runs every due run and returns how many ran.
func (e *env) drain(t testing.TB) int {
	t.Helper()
	n, err := e.eng.Drain()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// api calls the REST API as the given token.
func (e *env) api(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var out map[string]any
	code := schemastest.Call(t, e.srv, method, path, token, body, &out)
	return code, out
}

func (e *env) runs(t *testing.T, filter string) []*core.Record {
	t.Helper()
	if filter == "" {
		filter = "id != ''"
	}
	recs, err := e.app.FindRecordsByFilter(workflows.RunsCollection, filter, "created", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func (e *env) count(t *testing.T, collection, filter string, params ...map[string]any) int {
	t.Helper()
	var ps []dbx.Params
	for _, p := range params {
		ps = append(ps, p)
	}
	recs, err := e.app.FindRecordsByFilter(collection, filter, "", 0, 0, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
