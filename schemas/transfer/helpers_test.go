package transfer_test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
	"github.com/relata/relata/workflows"
)

// env is Relata's default model with hooks, the workflow engine (workers stopped) and
// transfer on a fresh app served on loopback, with users and two companies:
// alice and bob (sales, team north; bob is named "Bob Berg"), carol (sales, team south),
// mgr (manager), admin (admin); "Acme S.p.A." (acme.example) and "Beta Srl".
type env struct {
	app  *core.BaseApp
	reg  *schemas.Registry
	eng  *workflows.Engine
	svc  *transfer.Service
	srv  *httptest.Server
	su   string // superuser token
	acme *core.Record
	beta *core.Record

	alice, bob, carol, mgr, admin                *core.Record
	aliceTok, bobTok, carolTok, mgrTok, adminTok string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	svc := transfer.MustRegister(app, nil, transfer.Config{Registry: reg})
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)
	e := &env{app: app, reg: reg, eng: eng, svc: svc, srv: srv, su: schemastest.SuperuserToken(t, app)}
	e.alice, e.aliceTok = schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	e.bob, e.bobTok = schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	e.bob.Set("name", "Bob Berg")
	if err := app.Save(e.bob); err != nil {
		t.Fatal(err)
	}
	e.carol, e.carolTok = schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	e.mgr, e.mgrTok = schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	e.admin, e.adminTok = schemastest.NewUser(t, app, "admin@example.com", "admin", "")
	e.acme = schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Acme S.p.A.", "domain": "acme.example"})
	e.beta = schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Beta Srl"})
	return e
}

// importFile imports a fixture and fails the test when the file cannot be imported at all.
func (e *env) importFile(t testing.TB, name string, opts transfer.ImportOptions) *transfer.Result {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return e.importBytes(t, name, b, opts)
}

func (e *env) importBytes(t testing.TB, name string, b []byte, opts transfer.ImportOptions) *transfer.Result {
	t.Helper()
	opts.File = name
	res, err := e.svc.Import(bytes.NewReader(b), opts)
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return res
}

// one finds the single record of collection whose field has value.
func (e *env) one(t testing.TB, collection, field string, value any) *core.Record {
	t.Helper()
	r, err := e.app.FindFirstRecordByData(collection, field, value)
	if err != nil {
		t.Fatalf("no %s with %s=%v: %v", collection, field, value, err)
	}
	return r
}

func (e *env) count(t testing.TB, collection string) int {
	t.Helper()
	if collection == audit.Collection {
		if err := audit.Flush(e.app); err != nil { // the entries still in the journal
			t.Fatal(err)
		}
	}
	n, err := e.app.CountRecords(collection)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// counts is a result's counts, for comparing in one line.
type counts struct{ created, updated, unchanged, failed int }

func countsOf(r *transfer.Result) counts { return counts{r.Created, r.Updated, r.Unchanged, r.Failed} }

func parseWorkflow(def string) (*workflows.Definition, error) {
	return workflows.Parse("test", []byte(def))
}

// undoRows reads a batch's undo rows: how many records they list (a "created_many" row lists
// several), how many rows there are, and how many distinct sequence numbers they have.
func (e *env) undoRows(t testing.TB, batch string) (records, rows, seqs int) {
	t.Helper()
	err := e.app.DB().NewQuery("SELECT coalesce(sum(CASE WHEN [[action]] = 'created_many' THEN json_array_length([[before]]) ELSE 1 END), 0), count(*), count(DISTINCT [[seq]]) FROM {{"+transfer.ChangesCollection+"}} WHERE [[batch]] = {:b}").
		Bind(dbx.Params{"b": batch}).Row(&records, &rows, &seqs)
	if err != nil {
		t.Fatal(err)
	}
	return records, rows, seqs
}
