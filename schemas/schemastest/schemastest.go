// Package schemastest helps tests run Relata on a real PocketBase app: open an app on a
// temp dir (and re-open it, to simulate a restart), serve its HTTP API on loopback, and
// create users, tokens and records. Test files must also import Relata's migrations:
//
//	import _ "github.com/relata/relata/migrations"
package schemastest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/stmtcache"
)

// OpenApp opens (or re-opens, to simulate a restart) a real PocketBase app on dir with
// Relata's migrations applied.
func OpenApp(t testing.TB, dir string) *core.BaseApp {
	t.Helper()
	return openApp(t, core.BaseAppConfig{DataDir: dir})
}

// OpenServedApp is OpenApp with the databases opened as `relata serve` opens them, through
// the statement cache (schemas/stmtcache): for benchmarks that stand for the served product.
func OpenServedApp(t testing.TB, dir string) *core.BaseApp {
	t.Helper()
	return openApp(t, core.BaseAppConfig{DataDir: dir, DBConnect: stmtcache.Connect})
}

func openApp(t testing.TB, cfg core.BaseAppConfig) *core.BaseApp {
	t.Helper()
	app := core.NewBaseApp(cfg)
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	// Write transactions share commits as under `relata serve`.
	schemas.EnableGroupCommit(app, schemas.DefaultGroupCommit)
	// Terminate as the server does: OnTerminate stops Relata's workers, then PocketBase
	// flushes its logs and closes the databases.
	t.Cleanup(func() {
		_ = app.OnTerminate().Trigger(&core.TerminateEvent{App: app}, func(e *core.TerminateEvent) error {
			return e.App.ResetBootstrapState()
		})
	})
	return app
}

// ApplyObjs plans and applies objs, failing the test on error.
func ApplyObjs(t testing.TB, app core.App, objs []*schemas.Object, force bool) *schemas.Plan {
	t.Helper()
	p, err := schemas.NewPlan(app, objs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schemas.Apply(app, p, schemas.ApplyOptions{Force: force}); err != nil {
		t.Fatal(err)
	}
	return p
}

// Serve starts the app's real HTTP API (with every OnServe hook, Relata's included) on a
// loopback port.
func Serve(t testing.TB, app core.App) *httptest.Server {
	t.Helper()
	r, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	err = app.OnServe().Trigger(&core.ServeEvent{App: app, Router: r}, func(e *core.ServeEvent) error {
		mux, err := e.Router.BuildMux()
		if err != nil {
			return err
		}
		srv = httptest.NewServer(mux)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// Call sends a JSON request and decodes the JSON answer into out (when not nil).
func Call(t testing.TB, srv *httptest.Server, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return res.StatusCode
}

// SuperuserToken creates a superuser and returns an auth token for it.
func SuperuserToken(t testing.TB, app core.App) string {
	t.Helper()
	coll, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		t.Fatal(err)
	}
	su := core.NewRecord(coll)
	su.SetEmail("root@example.com")
	su.SetPassword("root-password-1")
	if err := app.Save(su); err != nil {
		t.Fatal(err)
	}
	tok, err := su.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// NewUser creates a CRM user and returns it with an auth token.
func NewUser(t testing.TB, app core.App, email, role, team string) (*core.Record, string) {
	t.Helper()
	coll, err := app.FindCollectionByNameOrId(schemas.UsersCollection)
	if err != nil {
		t.Fatal(err)
	}
	u := core.NewRecord(coll)
	u.SetEmail(email)
	u.SetPassword("password-123")
	u.Set("role", role)
	u.Set("team", team)
	u.Set("name", email)
	if err := app.Save(u); err != nil {
		t.Fatal(err)
	}
	tok, err := u.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return u, tok
}

// MustCreate saves a record of collection with the given values.
func MustCreate(t testing.TB, app core.App, collection string, values map[string]any) *core.Record {
	t.Helper()
	coll, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(coll)
	for k, v := range values {
		r.Set(k, v)
	}
	if err := app.Save(r); err != nil {
		t.Fatalf("create %s %v: %v", collection, values, err)
	}
	return r
}
