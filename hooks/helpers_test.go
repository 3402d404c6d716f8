package hooks_test

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

type env struct {
	app *core.BaseApp
	reg *schemas.Registry
	srv *httptest.Server
}

// newEnv runs the default model with Relata's hooks on a fresh app, served on loopback.
func newEnv(t *testing.T) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	srv := schemastest.Serve(t, app)
	return &env{app: app, reg: reg, srv: srv}
}

func encodeQuery(s string) string { return url.QueryEscape(s) }

func firstID(t *testing.T, e *env, collection string) string {
	t.Helper()
	recs, err := e.app.FindAllRecords(collection)
	if err != nil || len(recs) == 0 {
		t.Fatalf("no %s: %v", collection, err)
	}
	return recs[0].Id
}
