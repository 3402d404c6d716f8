package trash_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/trash"
	"github.com/relata/relata/workflows"
)

// env is Relata's default model with hooks (audit, trash), the workflow engine (workers
// stopped) and the trash's routes on a fresh app served on loopback, with alice and bob
// (sales, north), carol (sales, south) and mgr (manager).
type env struct {
	app *core.BaseApp
	svc *trash.Service
	srv *httptest.Server

	alice, bob, carol, mgr             *core.Record
	aliceTok, bobTok, carolTok, mgrTok string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	svc, err := trash.Register(app, trash.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)
	e := &env{app: app, svc: svc, srv: srv}
	e.alice, e.aliceTok = schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	e.bob, e.bobTok = schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	e.carol, e.carolTok = schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	e.mgr, e.mgrTok = schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	return e
}

// entryOf returns the trash entry of record id as token's caller lists it, or "".
func (e *env) entryOf(t *testing.T, token, record string) string {
	t.Helper()
	var out struct{ Items []trash.Item }
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/trash", token, nil, &out); code != 200 {
		t.Fatalf("list the trash = %d", code)
	}
	for _, it := range out.Items {
		if it.Record == record {
			return it.ID
		}
	}
	return ""
}

// TestRestoreLinksOnlyWhatTheRestorerMayView: alice deletes her activity on her deal; the deal
// goes to carol (another team) since. Restoring the activity as it was would make alice link
// a deal she may not view — which the REST API refuses (schemas.CheckLinks) — so her restore
// is refused, naming the field, and changes nothing; a manager, who views every deal, restores it.
func TestRestoreLinksOnlyWhatTheRestorerMayView(t *testing.T) {
	e := newEnv(t)
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Alice's deal", "stage": "lead", "owner": e.alice.Id})
	act := schemastest.MustCreate(t, e.app, "activities", map[string]any{"subject": "Call", "type": "call", "deal": deal.Id, "owner": e.alice.Id})
	if code := schemastest.Call(t, e.srv, http.MethodDelete, "/api/collections/activities/records/"+act.Id, e.aliceTok, nil, nil); code != 204 {
		t.Fatalf("alice deletes her activity = %d", code)
	}
	deal.Set("owner", e.carol.Id)
	if err := e.app.Save(deal); err != nil {
		t.Fatal(err)
	}
	entry := e.entryOf(t, e.aliceTok, act.Id)
	if entry == "" {
		t.Fatal("alice does not see her deleted activity in the trash")
	}
	if e.entryOf(t, e.carolTok, act.Id) != "" {
		t.Error("carol (another team) lists alice's deleted activity")
	}
	for _, tok := range []string{"", e.carolTok} {
		if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/trash/"+entry+"/restore", tok, nil, nil); code != 401 && code != 404 {
			t.Errorf("restore as %q = %d; want 401 or 404", tok, code)
		}
	}
	var out map[string]any
	code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/trash/"+entry+"/restore", e.aliceTok, nil, &out)
	if code != 400 || !strings.Contains(fmt.Sprint(out["message"]), `"deal"`) {
		t.Errorf("alice restores an activity linking carol's deal = %d %v; want 400 naming the field deal", code, out)
	}
	if _, err := e.app.FindRecordById("activities", act.Id); err == nil {
		t.Fatal("the refused restore brought the activity back, linked to a deal alice may not view")
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/trash/"+entry+"/restore", e.mgrTok, nil, &out); code != 200 {
		t.Fatalf("the manager restores it = %d %v", code, out)
	}
	if got, err := e.app.FindRecordById("activities", act.Id); err != nil || got.GetString("deal") != deal.Id {
		t.Errorf("the manager's restore: %v, deal %q; want the activity back on %s", err, got.GetString("deal"), deal.Id)
	}
}

// TestListReadsOnlyWhatItShows: a trash of 10,001 entries (a bulk delete of another team's
// contacts, each copy 4 KB) is not read whole, copies included, on every listing by a rep who
// may see none of it; each caller still lists exactly what they could see.
func TestListReadsOnlyWhatItShows(t *testing.T) {
	e := newEnv(t)
	const n = 10001
	at, _ := types.ParseDateTime(time.Now())
	data := fmt.Sprintf(`{"full_name": "x", "message": %q}`, strings.Repeat("m", 4000))
	err := e.app.RunInTransaction(func(tx core.App) error {
		for i := range n {
			_, err := tx.DB().Insert(trash.Collection, dbx.Params{"id": fmt.Sprintf("t%014d", i), "object": "contacts",
				"record": fmt.Sprintf("c%014d", i), "title": "Carol's", "data": data, "links": "[]", "owner": e.carol.Id,
				"deleted_by": e.carol.Id, "deleted_by_kind": "user", "deleted_at": at.String()}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bobs := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Bob's", "owner": e.bob.Id})
	if err := e.app.Delete(bobs); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []struct {
		name string
		who  *core.Record
		want int
	}{
		{"alice (north: sees bob's)", e.alice, 1},
		{"carol (south: sees her own, the newest 500)", e.carol, 500},
		{"manager", e.mgr, 500},
	} {
		items, err := e.svc.List(sc.who)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != sc.want {
			t.Errorf("%s lists %d entries; want %d", sc.name, len(items), sc.want)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	items, err := e.svc.List(e.alice)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil || len(items) != 1 || items[0].Record != bobs.Id {
		t.Fatalf("alice lists %v, %v; want bob's contact only", items, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("alice's listing of one entry allocated %d MB (in %v): it read the whole trash", alloc>>20, took)
	}
}

// TestDeletedByNamesUsersOnly: the trash names the user who deleted a record; one deleted by
// a superuser shows "superuser" without the id (no user's to look up) except to superusers.
func TestDeletedByNamesUsersOnly(t *testing.T) {
	e := newEnv(t)
	suTok := schemastest.SuperuserToken(t, e.app)
	byBob := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Deleted by bob", "owner": e.alice.Id})
	bySu := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Deleted by a superuser", "owner": e.alice.Id})
	for _, d := range []struct{ id, tok string }{{byBob.Id, e.bobTok}, {bySu.Id, suTok}} {
		if code := schemastest.Call(t, e.srv, http.MethodDelete, "/api/collections/contacts/records/"+d.id, d.tok, nil, nil); code != 204 {
			t.Fatalf("delete %s = %d", d.id, code)
		}
	}
	list := func(tok string) map[string]trash.Item {
		var out struct{ Items []trash.Item }
		if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/trash", tok, nil, &out); code != 200 {
			t.Fatalf("list the trash = %d", code)
		}
		m := map[string]trash.Item{}
		for _, it := range out.Items {
			m[it.Record] = it
		}
		return m
	}
	su, err := e.app.FindAuthRecordByToken(strings.TrimPrefix(suTok, "Bearer "), core.TokenTypeAuth)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who                string
		tok                string
		wantSu, wantSuKind string
	}{
		{"alice", e.aliceTok, "", "superuser"},
		{"the manager", e.mgrTok, "", "superuser"},
		{"a superuser", suTok, su.Id, "superuser"},
	} {
		items := list(c.tok)
		if it := items[byBob.Id]; it.DeletedBy != e.bob.Id || it.DeletedByKind != "user" {
			t.Errorf("%s reads bob's deletion as %q %q; want bob's id, user", c.who, it.DeletedBy, it.DeletedByKind)
		}
		if it := items[bySu.Id]; it.DeletedBy != c.wantSu || it.DeletedByKind != c.wantSuKind {
			t.Errorf("%s reads the superuser's deletion as %q %q; want %q %q", c.who, it.DeletedBy, it.DeletedByKind, c.wantSu, c.wantSuKind)
		}
	}
}

// TestRestoreRelinksOnlyViewableRecords: alice's contact was on carol's deal (another team)
// when alice deleted it. Her restore brings the contact back but does not write a link into
// carol's deal, which she may not view; the manager's restore of the same entry does.
func TestRestoreRelinksOnlyViewableRecords(t *testing.T) {
	for _, c := range []struct {
		who        string
		relinked   bool
		restoreTok func(e *env) string
	}{
		{"alice", false, func(e *env) string { return e.aliceTok }},
		{"the manager", true, func(e *env) string { return e.mgrTok }},
	} {
		t.Run(c.who, func(t *testing.T) {
			e := newEnv(t)
			contact := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Alice's contact", "owner": e.alice.Id})
			deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Carol's deal", "stage": "lead", "owner": e.carol.Id,
				"contacts": []string{contact.Id}})
			if code := schemastest.Call(t, e.srv, http.MethodDelete, "/api/collections/contacts/records/"+contact.Id, e.aliceTok, nil, nil); code != 204 {
				t.Fatalf("alice deletes her contact = %d", code)
			}
			entry := e.entryOf(t, e.aliceTok, contact.Id)
			var out map[string]any
			if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/trash/"+entry+"/restore", c.restoreTok(e), nil, &out); code != 200 {
				t.Fatalf("%s restores the contact = %d %v", c.who, code, out)
			}
			got, err := e.app.FindRecordById("deals", deal.Id)
			if err != nil {
				t.Fatal(err)
			}
			if linked := slices.Contains(got.GetStringSlice("contacts"), contact.Id); linked != c.relinked {
				t.Errorf("after %s's restore carol's deal links the contact: %v; want %v", c.who, linked, c.relinked)
			}
		})
	}
}
