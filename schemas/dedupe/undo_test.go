package dedupe_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/schemastest"
)

// TestUndoAccess: a merge is undone by the user who made it, a manager or an admin — never by
// someone who may merely edit the kept record, since an undo rewrites every reference the
// merge moved, in records the caller may not see too. A refused undo changes nothing, and
// the answers (of the merge and of the undo) name no record the caller may not view.
func TestUndoAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	_, adminTok := schemastest.NewUser(t, e.app, "admin@example.com", "admin", "")
	// A manager merges company A into B; A has a deal of carol's, which alice cannot view,
	// and one of alice's.
	b := e.create(t, "companies", map[string]any{"name": "Acme"})
	a := e.create(t, "companies", map[string]any{"name": "ACME Ltd"})
	carols := e.create(t, "deals", map[string]any{"name": "Carol's", "company": a.Id, "owner": e.carol.Id})
	alices := e.create(t, "deals", map[string]any{"name": "Alice's", "company": a.Id, "owner": e.alice.Id})
	var merged dedupe.Result
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merge/companies", e.mgrTok,
		map[string]any{"winner": b.Id, "loser": a.Id}, &merged); code != 200 {
		t.Fatalf("the manager merges = %d", code)
	}
	// Alice may update the kept company (companies are everyone's), yet the merge is not hers.
	if ok, err := schemas.User(e.alice).CanUpdate(e.app, e.get(t, "companies", b.Id), map[string]any{}); err != nil || !ok {
		t.Fatalf("alice may not update the kept company (%v): the refusal below would prove nothing", err)
	}
	for _, sc := range []struct{ name, token string }{{"alice (sales)", e.aliceTok}, {"carol (sales)", e.carolTok}} {
		var out map[string]any
		if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+merged.ID+"/undo", sc.token, nil, &out); code != 403 {
			t.Errorf("%s undoes the manager's merge = %d %v; want 403", sc.name, code, out)
		}
	}
	if _, err := e.svc.Undo(schemas.User(e.alice), merged.ID); err == nil {
		t.Error("alice undoes the manager's merge in Go")
	}
	if got := e.get(t, "deals", carols.Id).GetString("company"); got != b.Id {
		t.Errorf("carol's deal after the refused undos: company %s; want the kept %s", got, b.Id)
	}
	if _, err := e.app.FindRecordById("companies", a.Id); err == nil {
		t.Error("the merged-away company is back after the refused undos")
	}
	if m := e.get(t, dedupe.Collection, merged.ID); m.GetBool("undone") {
		t.Error("the merge is marked undone after the refused undos")
	}
	// The merger undoes it.
	var undone dedupe.Result
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+merged.ID+"/undo", e.mgrTok, nil, &undone); code != 200 {
		t.Fatalf("the manager undoes her merge = %d", code)
	}
	for _, d := range []string{carols.Id, alices.Id} {
		if got := e.get(t, "deals", d).GetString("company"); got != a.Id {
			t.Errorf("deal %s after the undo: company %s; want %s", d, got, a.Id)
		}
	}
	if len(undone.Repointed) != 2 {
		t.Errorf("the manager's undo lists %d references; want both deals (she views every record)", len(undone.Repointed))
	}

	// Alice merges her own contacts; a deal of carol's names the loser (written in Go: carol
	// could not link a contact she cannot view).
	win := e.create(t, "contacts", map[string]any{"full_name": "Mario", "owner": e.alice.Id})
	lose := e.create(t, "contacts", map[string]any{"full_name": "Mario R", "owner": e.alice.Id})
	hidden := e.create(t, "deals", map[string]any{"name": "Carol's Mario", "contacts": []string{lose.Id}, "owner": e.carol.Id})
	shown := e.create(t, "activities", map[string]any{"subject": "Call", "type": "call", "contact": lose.Id, "owner": e.alice.Id})
	listed := func(name string, r dedupe.Result) {
		t.Helper()
		var ids []string
		for _, mv := range r.Repointed {
			ids = append(ids, mv.Record)
		}
		// carol's deal moved too, neither named nor counted: how many records of other teams
		// point at her contact is not alice's to know.
		if len(ids) != 1 || ids[0] != shown.Id || r.RepointedHidden != 0 {
			t.Errorf("%s lists %v and %d hidden; want alice's activity %s and no count", name, ids, r.RepointedHidden, shown.Id)
		}
	}
	var mine dedupe.Result
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merge/contacts", e.aliceTok,
		map[string]any{"winner": win.Id, "loser": lose.Id}, &mine); code != 200 {
		t.Fatalf("alice merges her contacts = %d", code)
	}
	listed("alice's merge", mine)
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+mine.ID+"/undo", e.carolTok, nil, nil); code != 403 {
		t.Errorf("carol undoes alice's merge = %d; want 403", code)
	}
	var back dedupe.Result
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+mine.ID+"/undo", e.aliceTok, nil, &back); code != 200 {
		t.Fatalf("alice undoes her merge = %d", code)
	}
	listed("alice's undo", back)
	if got := e.get(t, "deals", hidden.Id).GetStringSlice("contacts"); len(got) != 1 || got[0] != lose.Id {
		t.Errorf("carol's deal after the undo: contacts %v; want the loser back", got)
	}
	// The merger must still view the record the undo brings back: alice merged a teammate's
	// contact into hers, and the teammate has moved to another team since.
	bob, _ := schemastest.NewUser(t, e.app, "bob@example.com", "sales", "north")
	bobs := e.create(t, "contacts", map[string]any{"full_name": "Mario Rossi", "owner": bob.Id})
	var team dedupe.Result
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merge/contacts", e.aliceTok,
		map[string]any{"winner": win.Id, "loser": bobs.Id}, &team); code != 200 {
		t.Fatalf("alice merges her teammate's contact = %d", code)
	}
	bob.Set("team", "south")
	if err := e.app.Save(bob); err != nil {
		t.Fatal(err)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+team.ID+"/undo", e.aliceTok, nil, nil); code != 403 {
		t.Errorf("alice undoes a merge whose loser she no longer views = %d; want 403", code)
	}
	if _, err := e.app.FindRecordById("contacts", bobs.Id); err == nil {
		t.Error("the refused undo brought bob's contact back")
	}
	// An admin may undo anyone's merge, and a superuser sees every reference.
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merge/contacts", e.aliceTok,
		map[string]any{"winner": win.Id, "loser": lose.Id}, &mine); code != 200 {
		t.Fatalf("alice merges again = %d", code)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+mine.ID+"/undo", adminTok, nil, &back); code != 200 {
		t.Errorf("an admin undoes alice's merge = %d; want 200", code)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merge/contacts", e.su,
		map[string]any{"winner": win.Id, "loser": lose.Id}, &mine); code != 200 || len(mine.Repointed) != 2 || mine.RepointedHidden != 0 {
		t.Errorf("a superuser merges = %d, %d listed, %d hidden; want both references listed", code, len(mine.Repointed), mine.RepointedHidden)
	}
}

// TestUndoConflictNamesNoHiddenRecord: alice merged her contacts; a deal of carol's (another
// team) named the loser and has changed since. Alice's undo is refused (409), as it must be,
// but its answer names no record she may not view — as her merge's answer did not; a
// manager's answer names it.
func TestUndoConflictNamesNoHiddenRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	win := e.create(t, "contacts", map[string]any{"full_name": "Mario", "owner": e.alice.Id})
	lose := e.create(t, "contacts", map[string]any{"full_name": "Mario R", "owner": e.alice.Id})
	other := e.create(t, "contacts", map[string]any{"full_name": "Luigi", "owner": e.carol.Id})
	hidden := e.create(t, "deals", map[string]any{"name": "Carol's Mario", "stage": "lead", "contacts": []string{lose.Id}, "owner": e.carol.Id})
	var merged dedupe.Result
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merge/contacts", e.aliceTok,
		map[string]any{"winner": win.Id, "loser": lose.Id}, &merged); code != 200 {
		t.Fatalf("alice merges her contacts = %d", code)
	}
	deal := e.get(t, "deals", hidden.Id)
	deal.Set("contacts", []string{win.Id, other.Id}) // carol adds a contact of hers
	if err := e.app.Save(deal); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+merged.ID+"/undo", e.aliceTok, nil, &out)
	if msg, _ := out["message"].(string); code != 409 || strings.Contains(msg, hidden.Id) || !strings.Contains(msg, "records you may not view") {
		t.Errorf("alice's undo = %d %q; want 409 without carol's deal %s", code, msg, hidden.Id)
	}
	code = schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+merged.ID+"/undo", e.mgrTok, nil, &out)
	if msg, _ := out["message"].(string); code != 409 || !strings.Contains(msg, "deals "+hidden.Id+": field contacts") {
		t.Errorf("the manager's undo = %d %q; want 409 naming carol's deal", code, msg)
	}
}
