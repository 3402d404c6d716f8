package audit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
)

// newApp is a real app with the default model and Relata's record hooks (which append the
// entries), served on loopback with the audit endpoints.
func newApp(t *testing.T) (*core.BaseApp, *httptest.Server) {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	audit.MustRegister(app, nil, audit.Config{Registry: reg})
	return app, schemastest.Serve(t, app)
}

func mustVerify(t *testing.T, app core.App) *audit.Report {
	t.Helper()
	r, err := audit.Verify(app)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVerifyDetectsTampering edits the trail with SQL, as someone with the database file
// would, and expects verification to name the entry and the reason.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name   string
		tamper string // SQL run on a trail of 5 entries
		want   string // in the problem's reason; "" = still intact
		seq    int64
	}{
		{"untouched", "", "", 0},
		{"a value edited", `UPDATE relata_audit SET changes = '{"name":{"new":"Forged"}}' WHERE seq = 3`, "changed values were edited", 3},
		{"the actor edited", `UPDATE relata_audit SET actor_id = 'someone-else' WHERE seq = 2`, "was edited", 2},
		{"the time edited", `UPDATE relata_audit SET at = '2020-01-01 00:00:00.000Z' WHERE seq = 4`, "was edited", 4},
		{"an entry removed", `DELETE FROM relata_audit WHERE seq = 2`, "entries 2 to 2 were removed", 3},
		{"an entry removed and the rest renumbered", `DELETE FROM relata_audit WHERE seq = 2; UPDATE relata_audit SET seq = seq - 1 WHERE seq > 2`, "does not link", 2},
		{"marked erased without an erasure", `UPDATE relata_audit SET erased = 1, changes = '{}' WHERE seq = 5`, "no erasure entry lists it", 5},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			app := schemastest.OpenApp(t, t.TempDir())
			at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			for i := 1; i <= 5; i++ {
				_, err := audit.Append(app, at.Add(time.Duration(i)*time.Minute), audit.Actor{Kind: audit.KindUser, ID: "usr1", Via: "api"},
					"deals", fmt.Sprintf("deal%d", i), audit.ActionCreate, map[string]audit.Change{"name": {New: fmt.Sprintf("Deal %d", i)}})
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, stmt := range strings.Split(sc.tamper, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := app.DB().NewQuery(stmt).Execute(); err != nil {
					t.Fatal(err)
				}
			}
			r := mustVerify(t, app)
			if sc.want == "" {
				if !r.OK() || r.Entries != 5 || r.HeadSeq != 5 {
					t.Fatalf("intact trail: %+v", r)
				}
				return
			}
			wantProblem(t, r, sc.want, sc.seq)
		})
	}
}

// TestEraseKeepsTheChain erases the values of entries as privacy erasure does: the values are
// gone from the database, the chain still verifies.
func TestEraseKeepsTheChain(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	now := time.Now()
	var ids []string
	for i := 0; i < 3; i++ {
		e, err := audit.Append(app, now, audit.Actor{Kind: audit.KindSystem}, "contacts", "con1", audit.ActionUpdate,
			map[string]audit.Change{"email": {Old: "ada@example.com", New: fmt.Sprintf("ada%d@example.com", i)}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if _, err := audit.Erase(app, now, audit.Actor{Kind: audit.KindSystem, Via: "privacy"}, "contacts", "con1", ids); err != nil {
		t.Fatal(err)
	}
	if r := mustVerify(t, app); !r.OK() || r.Entries != 4 {
		t.Fatalf("after erasure: %+v", r)
	}
	var n int
	_ = app.DB().NewQuery("SELECT count(*) FROM relata_audit WHERE changes LIKE '%ada@example.com%' OR changes LIKE '%ada0@%' OR changes LIKE '%ada1@%'").Row(&n)
	if n != 0 {
		t.Fatalf("%d entries still hold the erased values", n)
	}
}

// TestEraseFieldsKeepsTheRest erases the values of some fields of entries, as erasure does for
// a record linked to the person and retention for the fields it clears: those values are gone,
// the entry's other changes stay readable, the erasure entry lists it, the chain verifies. An
// entry that holds no value of the fields is left alone.
func TestEraseFieldsKeepsTheRest(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	now := time.Now()
	actor := audit.Actor{Kind: audit.KindSystem}
	a, err := audit.Append(app, now, actor, "activities", "act1", audit.ActionCreate,
		map[string]audit.Change{"body": {New: "Diagnosed with asthma"}, "type": {New: "call"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := audit.Append(app, now, actor, "activities", "act1", audit.ActionUpdate,
		map[string]audit.Change{"done": {Old: false, New: true}})
	if err != nil {
		t.Fatal(err)
	}
	erasure, err := audit.EraseFields(app, now, actor, "privacy", "subject", nil, map[string][]string{a.ID: {"body", "subject"}, b.ID: {"body"}})
	if err != nil {
		t.Fatal(err)
	}
	if erasure == nil || fmt.Sprint(erasure.Changes["entries"].New) != fmt.Sprint([]string{a.ID}) {
		t.Fatalf("the erasure entry = %+v; want it to list %s only", erasure, a.ID)
	}
	items, err := audit.Find(app, audit.Query{Object: "activities", Record: "act1"})
	if err != nil || len(items) != 2 {
		t.Fatalf("find = %d %v", len(items), err)
	}
	byID := map[string]*audit.Entry{}
	for _, e := range items {
		byID[e.ID] = e
	}
	if c := byID[a.ID].Changes; c["body"].New != audit.ErasedMarker || c["type"].New != "call" || !byID[a.ID].Erased {
		t.Errorf("the erased entry = %+v", byID[a.ID])
	}
	if byID[b.ID].Erased || byID[b.ID].Changes["done"].New != true {
		t.Errorf("an entry without the fields was changed: %+v", byID[b.ID])
	}
	if r := mustVerify(t, app); !r.OK() {
		t.Fatalf("after erasure: %+v", r)
	}
}

// TestRecordChangesAreAudited drives the REST API and Go saves: who, through what, and each
// field's old and new value; the trail refuses every write, superusers' included.
func TestRecordChangesAreAudited(t *testing.T) {
	t.Parallel()
	app, srv := newApp(t)
	apiJSON := func(method, path, token string, body, out any) int {
		t.Helper()
		return schemastest.Call(t, srv, method, path, token, body, out)
	}
	call := func(method, path, token string, out any) int {
		t.Helper()
		return schemastest.Call(t, srv, method, path, token, nil, out)
	}
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	_, carolTok := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", "admin", "")
	suTok := schemastest.SuperuserToken(t, app)

	var deal map[string]any
	if code := apiJSON(http.MethodPost, "/api/collections/deals/records", aliceTok, map[string]any{"name": "Audit me", "amount": 1200}, &deal); code != 200 {
		t.Fatalf("create = %d %v", code, deal)
	}
	id := deal["id"].(string)
	if code := apiJSON(http.MethodPatch, "/api/collections/deals/records/"+id, aliceTok, map[string]any{"stage": "qualified", "amount": 1500}, nil); code != 200 {
		t.Fatalf("update = %d", code)
	}
	// A save that changes nothing leaves no entry.
	if code := apiJSON(http.MethodPatch, "/api/collections/deals/records/"+id, aliceTok, map[string]any{"amount": 1500}, nil); code != 200 {
		t.Fatalf("no-op update = %d", code)
	}
	// A Go save attributed to an import batch.
	rec, err := app.FindRecordById("deals", id)
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("source", "referral")
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindImport, ID: "batch1", Via: "import"})
	if err := app.SaveWithContext(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// A password change is recorded without the password.
	dan, _ := schemastest.NewUser(t, app, "dan@example.com", "sales", "north")
	if code := apiJSON(http.MethodPatch, "/api/collections/users/records/"+dan.Id, suTok,
		map[string]any{"password": "new-password-123", "passwordConfirm": "new-password-123"}, nil); code != 200 {
		t.Fatalf("password change = %d", code)
	}
	if code := apiJSON(http.MethodDelete, "/api/collections/deals/records/"+id, adminTok, nil, nil); code != 204 {
		t.Fatalf("delete = %d", code)
	}

	entries, err := audit.Find(app, audit.Query{Object: "deals", Record: id})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		action, kind, via string
		fields            map[string][2]any // field -> {old, new}
	}
	wants := []want{ // newest first
		{audit.ActionDelete, audit.KindUser, "api", map[string][2]any{"name": {"Audit me", nil}, "amount": {float64(1500), nil}}},
		{audit.ActionUpdate, audit.KindImport, "import", map[string][2]any{"source": {"", "referral"}}},
		{audit.ActionUpdate, audit.KindUser, "api", map[string][2]any{"stage": {"lead", "qualified"}, "amount": {float64(1200), float64(1500)}}},
		{audit.ActionCreate, audit.KindUser, "api", map[string][2]any{"name": {nil, "Audit me"}, "owner": {nil, alice.Id}}},
	}
	if len(entries) != len(wants) {
		for _, e := range entries {
			t.Logf("entry %d %s %s %v", e.Seq, e.Action, e.ActorKind, e.Changes)
		}
		t.Fatalf("%d entries for the deal; want %d", len(entries), len(wants))
	}
	for i, w := range wants {
		e := entries[i]
		if e.Action != w.action || e.ActorKind != w.kind || e.Via != w.via {
			t.Errorf("entry %d = %s by %s via %s; want %s by %s via %s", i, e.Action, e.ActorKind, e.Via, w.action, w.kind, w.via)
		}
		for f, ov := range w.fields {
			c, ok := e.Changes[f]
			if !ok {
				t.Errorf("entry %d (%s) lacks field %s: %v", i, e.Action, f, e.Changes)
				continue
			}
			if fmt.Sprint(c.Old) != fmt.Sprint(ov[0]) || fmt.Sprint(c.New) != fmt.Sprint(ov[1]) {
				t.Errorf("entry %d (%s) %s = %v -> %v; want %v -> %v", i, e.Action, f, c.Old, c.New, ov[0], ov[1])
			}
		}
	}
	users, _ := audit.Find(app, audit.Query{Object: "users", Record: dan.Id})
	if len(users) != 2 || !users[0].Changes["password"].Redacted || users[0].ActorKind != audit.KindSuperuser {
		t.Errorf("entries of the user = %d; want the creation and a password change by the superuser", len(users))
	}
	for _, e := range users {
		if strings.Contains(e.ChangesJSON, "new-password") || strings.Contains(e.ChangesJSON, "$2a$") {
			t.Errorf("the trail holds a password: %s", e.ChangesJSON)
		}
	}

	// Nobody writes the trail through the API, superusers included.
	first := entries[len(entries)-1]
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPatch, "/api/collections/relata_audit/records/" + first.ID, map[string]any{"via": "forged"}},
		{http.MethodDelete, "/api/collections/relata_audit/records/" + first.ID, nil},
		{http.MethodPost, "/api/collections/relata_audit/records", map[string]any{"seq": 999, "at": "x", "actor_kind": "user", "object": "deals", "record": "x", "action": "create", "hash": "x"}},
		{http.MethodDelete, "/api/collections/relata_audit", nil},
	} {
		if code := apiJSON(tc.method, tc.path, suTok, tc.body, nil); code < 400 {
			t.Errorf("superuser %s %s = %d; want a refusal", tc.method, tc.path, code)
		}
	}
	if r := mustVerify(t, app); !r.OK() {
		t.Fatalf("trail after the refused writes: %v", r.Problems)
	}

	// The history endpoint: whoever may view the record; of a deleted one, managers and admins.
	var hist struct {
		Items []map[string]any `json:"items"`
	}
	if code := call(http.MethodGet, "/api/relata/audit/deals/"+id, aliceTok, &hist); code != 404 {
		t.Errorf("alice reads the history of a deleted deal = %d; want 404", code)
	}
	if code := call(http.MethodGet, "/api/relata/audit/deals/"+id, adminTok, &hist); code != 200 || len(hist.Items) != 4 {
		t.Errorf("admin reads the history = %d with %d items; want 200 with 4", code, len(hist.Items))
	}
	own := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Alice's", "owner": alice.Id})
	if code := call(http.MethodGet, "/api/relata/audit/deals/"+own.Id, aliceTok, &hist); code != 200 || len(hist.Items) != 1 {
		t.Errorf("alice reads the history of her deal = %d with %d items", code, len(hist.Items))
	}
	if code := call(http.MethodGet, "/api/relata/audit/deals/"+own.Id, carolTok, nil); code != 404 {
		t.Errorf("carol reads the history of alice's deal = %d; want 404", code)
	}
	if code := call(http.MethodGet, "/api/relata/audit/deals/"+own.Id, "", nil); code != 401 {
		t.Errorf("anonymous reads a history = %d; want 401", code)
	}
	if code := call(http.MethodGet, "/api/relata/audit?field=stage", aliceTok, nil); code != 403 {
		t.Errorf("alice reads the whole trail = %d; want 403", code)
	}
	// The source was set by the import and is in the deleted deal's last values.
	if code := call(http.MethodGet, "/api/relata/audit?object=deals&field=source", adminTok, &hist); code != 200 || len(hist.Items) != 2 {
		t.Errorf("admin filters the trail by field = %d with %d items; want 200 with 2", code, len(hist.Items))
	}
	if code := call(http.MethodGet, "/api/relata/audit?from=yesterday", adminTok, nil); code != 400 {
		t.Errorf("a bad date = %d; want 400", code)
	}
}

// TestAuditAtScale writes 2,500 changes (past every 1,000 boundary) and pages through them.
func TestAuditAtScale(t *testing.T) {
	t.Parallel()
	app, _ := newApp(t)
	const n = 2500
	err := app.RunInTransaction(func(tx core.App) error {
		coll, err := tx.FindCollectionByNameOrId("companies")
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			r := core.NewRecord(coll)
			r.Set("name", fmt.Sprintf("Company %04d", i))
			if err := tx.Save(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := mustVerify(t, app)
	if !r.OK() || r.Entries != n || r.HeadSeq != n {
		t.Fatalf("report = %+v", r)
	}
	seen, before := 0, int64(0)
	for {
		page, err := audit.Find(app, audit.Query{Object: "companies", Before: before, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page)
		if len(page) < 500 {
			break
		}
		before = page[len(page)-1].Seq
	}
	if seen != n {
		t.Fatalf("paged through %d entries; want %d", seen, n)
	}
}

// TestAppendConcurrently writes from many goroutines at once — REST creates and updates as
// a user, Go saves, saves in transactions that roll back — and expects one unbroken chain
// holding exactly the changes that were committed, written by the prepared statements.
func TestAppendConcurrently(t *testing.T) {
	t.Parallel()
	app, srv := newApp(t)
	user, tok := schemastest.NewUser(t, app, "rep@example.com", "sales", "north")
	before := mustVerify(t, app).Entries // the user's own entry
	schemastest.MustCreate(t, app, "companies", map[string]any{"name": "First"})
	for deadline := time.Now().Add(10 * time.Second); !audit.Prepared(app); {
		if time.Now().After(deadline) {
			t.Fatal("the append's statements were not prepared after the first transaction")
		}
		time.Sleep(10 * time.Millisecond)
	}
	const workers, each = 8, 15
	errs := make(chan error, workers*each*3)
	done := make(chan struct{})
	var committed atomic.Int64
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < each; i++ {
				// a REST create and update as the user: two entries
				var c struct {
					ID string `json:"id"`
				}
				code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/contacts/records", tok,
					map[string]any{"full_name": fmt.Sprintf("W%d C%d", w, i), "owner": user.Id}, &c)
				if code != 200 {
					errs <- fmt.Errorf("create = %d", code)
					continue
				}
				committed.Add(1)
				code = schemastest.Call(t, srv, http.MethodPatch, "/api/collections/contacts/records/"+c.ID, tok,
					map[string]any{"job_title": "Buyer"}, nil)
				if code != 200 {
					errs <- fmt.Errorf("update = %d", code)
					continue
				}
				committed.Add(1)
				// a Go save in a transaction that rolls back: no entry
				rollback := errors.New("rolled back on purpose")
				err := app.RunInTransaction(func(tx core.App) error {
					coll, err := tx.FindCachedCollectionByNameOrId("companies")
					if err != nil {
						return err
					}
					r := core.NewRecord(coll)
					r.Set("name", fmt.Sprintf("Gone %d %d", w, i))
					if err := tx.Save(r); err != nil {
						return err
					}
					return rollback
				})
				if !errors.Is(err, rollback) {
					errs <- fmt.Errorf("rolled back save: %v", err)
				}
				// a plain Go save: one entry
				coll, _ := app.FindCachedCollectionByNameOrId("companies")
				r := core.NewRecord(coll)
				r.Set("name", fmt.Sprintf("Kept %d %d", w, i))
				if err := app.Save(r); err != nil {
					errs <- err
					continue
				}
				committed.Add(1)
			}
		}()
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r := mustVerify(t, app)
	want := before + 1 + committed.Load()
	if !r.OK() || r.Entries != want || r.HeadSeq != want {
		t.Fatalf("after concurrent writes: %d entries, head %d, problems %v; want %d entries, intact", r.Entries, r.HeadSeq, r.Problems, want)
	}
}

// wantProblem fails t unless r reports a problem at entry seq whose reason holds want.
func wantProblem(t *testing.T, r *audit.Report, want string, seq int64) {
	t.Helper()
	for _, p := range r.Problems {
		if strings.Contains(p.Reason, want) && p.Seq == seq {
			return
		}
	}
	t.Fatalf("problems = %v; want %q at entry %d", r.Problems, want, seq)
}
