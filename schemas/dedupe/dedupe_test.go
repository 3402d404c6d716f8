package dedupe_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/filesystem"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/schemastest"
)

func pairKey(p dedupe.Pair, title map[string]string) string {
	var rs []string
	for _, r := range p.Reasons {
		rs = append(rs, r.Match)
	}
	a, b := title[p.A], title[p.B]
	if a > b {
		a, b = b, a
	}
	return a + " = " + b + " (" + strings.Join(rs, ",") + ")"
}

func TestPairs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	acme := e.create(t, "companies", map[string]any{"name": "Acme S.p.A.", "domain": "acme.example"})
	beta := e.create(t, "companies", map[string]any{"name": "Beta Srl"})
	e.create(t, "companies", map[string]any{"name": "ACME spa", "website": "https://www.acme.example/about"})
	e.create(t, "companies", map[string]any{"name": "Gamma Trasporti"})
	e.create(t, "companies", map[string]any{"name": "Gama Trasporti"})
	title := map[string]string{}
	add := func(name string, v map[string]any) {
		v["full_name"] = name
		v["owner"] = e.alice.Id
		title[e.create(t, "contacts", v).Id] = name
	}
	add("Mario Rossi", map[string]any{"email": "mario@acme.example", "company": acme.Id})
	add("Mario Rossi (2)", map[string]any{"email": "Mario+crm@Acme.example"})                   // same email
	add("Giulia Bianchi", map[string]any{"phone": "+39 02 1234 5678", "company": beta.Id})      // same phone as next
	add("G. Bianchi", map[string]any{"phone": "0039 (02) 12345678"})                            //
	add("Luca Verdi", map[string]any{"company": acme.Id})                                       // similar name, same company
	add("Luca Verdii", map[string]any{"company": acme.Id})                                      //
	add("Luca Verdi", map[string]any{"company": beta.Id})                                       // same name, other company: not a pair by name
	add("Anna Neri", map[string]any{"email": "anna@beta.example", "phone": "+39 06 5555 1234"}) // unique
	add("Verdi Luca", map[string]any{"company": acme.Id})                                       // words swapped

	ix, err := e.svc.Index(schemas.System, "contacts")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ix.Pairs() {
		got = append(got, pairKey(p, title))
	}
	slices.Sort(got)
	want := []string{
		"G. Bianchi = Giulia Bianchi (phone)",
		"Luca Verdi = Luca Verdii (name)",
		"Luca Verdi = Verdi Luca (name)",
		"Luca Verdii = Verdi Luca (name)",
		"Mario Rossi = Mario Rossi (2) (email)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("contacts pairs:\n got %q\nwant %q", got, want)
	}

	cix, err := e.svc.Index(schemas.System, "companies")
	if err != nil {
		t.Fatal(err)
	}
	var cgot []string
	for _, p := range cix.Pairs() {
		a, b := p.ATitle, p.BTitle // a pair names its records in id order, which is random
		if a > b {
			a, b = b, a
		}
		cgot = append(cgot, fmt.Sprintf("%s = %s %.3f", a, b, p.Score))
	}
	slices.Sort(cgot)
	// Acme: the domain and the website's host agree and the names are alike; Gamma: names only.
	cwant := []string{"ACME spa = Acme S.p.A. 0.970", "Gama Trasporti = Gamma Trasporti 0.689"}
	if !slices.Equal(cgot, cwant) {
		t.Fatalf("company pairs:\n got %q\nwant %q", cgot, cwant)
	}

	// A new record checked against the index.
	m := ix.Match(map[string]any{"full_name": "Someone", "email": "MARIO@acme.example"}, "")
	if len(m) != 2 || m[0].Reasons[0].Match != dedupe.MatchEmail {
		t.Fatalf("match: %+v", m)
	}
	// Check reads only the candidates, and finds what the whole index finds.
	contactsObj, _ := e.reg.Object("contacts")
	it := &dedupe.Rules{Region: "IT"} // "02 1234 5678" reads as an Italian number
	ixIT, err := dedupe.NewIndex(e.app, schemas.System, contactsObj, it)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []map[string]any{
		{"full_name": "Someone", "email": "MARIO@acme.example"},
		{"full_name": "Giulia B", "phone": "02 1234 5678"},
		{"full_name": "Luca Verdy", "company": acme.Id},
		{"full_name": "Nobody", "email": "nobody@nowhere.example", "phone": "+1 415 555 2671"},
		{"full_name": "100%_x", "email": "%@%"},
		{"full_name": "Mario Rossi", "email": "mario@acme.example", "phone": "+39 02 1234 5678"},
		{"full_name": "Mario Rossi", "email": "mario@acme.example", "company": acme.Id},
	} {
		want := ixIT.Match(v, "")
		got, err := dedupe.Check(e.app, schemas.System, contactsObj, it, v, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids, wantIDs []string
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		for _, m := range want {
			wantIDs = append(wantIDs, m.ID)
		}
		if !slices.Equal(ids, wantIDs) || (v["phone"] == "02 1234 5678" && len(ids) != 2) {
			t.Errorf("Check(%v) = %v; the whole index finds %v", v, ids, wantIDs)
		}
		// The same scores and reasons too: a check leaves out the candidates' values of the
		// rules the probe has no value for, which must not change what it finds.
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Check(%v) = %+v; the whole index finds %+v", v, got, want)
		}
	}

	// The import's entry point: one list of matches per row.
	contacts, _ := e.reg.Object("contacts")
	likely, err := dedupe.Likely(e.app, schemas.User(e.carol), contacts, []map[string]any{
		{"full_name": "Nobody", "email": "nobody@x.example"},
		{"full_name": "Anna", "email": "anna@beta.example"},
	})
	if err != nil || len(likely) != 2 || len(likely[0]) != 0 || len(likely[1]) != 0 {
		t.Fatalf("carol, who sees none of alice's contacts: %+v %v", likely, err)
	}
	likely, err = dedupe.Likely(e.app, schemas.User(e.alice), contacts, []map[string]any{
		{"full_name": "Nobody", "email": "nobody@x.example"},
		{"full_name": "Anna", "email": "anna@beta.example"},
	})
	if err != nil || len(likely) != 2 || len(likely[0]) != 0 || len(likely[1]) != 1 || likely[1][0].Title != "Anna Neri" {
		t.Fatalf("alice: %+v %v", likely, err)
	}
}

// TestPairsAccess: a sales user sees pairs only among records she may view.
func TestPairsAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	e.create(t, "contacts", map[string]any{"full_name": "Ada", "email": "ada@x.example", "owner": e.alice.Id})
	e.create(t, "contacts", map[string]any{"full_name": "Ada L", "email": "ada+carol@x.example", "owner": e.carol.Id})
	e.create(t, "contacts", map[string]any{"full_name": "Bo", "email": "bo@x.example", "owner": e.alice.Id})
	e.create(t, "contacts", map[string]any{"full_name": "Bo B", "email": "bo+1@x.example", "owner": e.alice.Id})
	for _, s := range []struct {
		name, tok string
		want      int
	}{
		{"alice sees her pair only", e.aliceTok, 1},
		{"carol sees none", e.carolTok, 0},
		{"manager sees both", e.mgrTok, 2},
		{"superuser sees both", e.su, 2},
	} {
		var out struct {
			Pairs   []dedupe.Pair `json:"pairs"`
			Records int           `json:"records"`
		}
		if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/duplicates/contacts", s.tok, nil, &out); code != 200 {
			t.Fatalf("%s: status %d", s.name, code)
		}
		if len(out.Pairs) != s.want {
			t.Errorf("%s: %d pairs %+v; want %d", s.name, len(out.Pairs), out.Pairs, s.want)
		}
	}
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/duplicates/contacts", "", nil, nil); code != 401 {
		t.Errorf("anonymous: status %d; want 401", code)
	}
	// the check endpoint: alice is warned about her own Ada, never about carol's
	var out struct{ Matches []dedupe.Match }
	q := url.Values{"email": {"ada@x.example"}, "full_name": {"Ada"}}
	schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/duplicates/contacts/check?"+q.Encode(), e.aliceTok, nil, &out)
	if len(out.Matches) != 1 || out.Matches[0].Title != "Ada" {
		t.Errorf("alice check: %+v", out.Matches)
	}
	schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/duplicates/contacts/check?"+q.Encode(), e.carolTok, nil, &out)
	if len(out.Matches) != 1 || out.Matches[0].Title != "Ada L" {
		t.Errorf("carol check: %+v", out.Matches)
	}
}

// TestMergeAndUndo merges two contacts referenced in every way Relata references a record,
// checks that every reference moved, the winner took the chosen values, the loser redirects,
// the merge was audited, then undoes it and checks everything is as before.
func TestMergeAndUndo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	acme := e.create(t, "companies", map[string]any{"name": "Acme"})
	win := e.create(t, "contacts", map[string]any{"full_name": "Mario Rossi", "email": "mario@acme.example", "owner": e.alice.Id,
		"tags": []string{"vip", "fiera"}})
	lose := e.create(t, "contacts", map[string]any{"full_name": "Mario Rossi", "email": "m.rossi@acme.example",
		"phone": "+39 02 1234 5678", "company": acme.Id, "job_title": "CTO", "owner": e.alice.Id, "tags": []string{"newsletter", "vip"}})
	other := e.create(t, "contacts", map[string]any{"full_name": "Other", "owner": e.alice.Id})
	loserCreated := lose.GetString("created")

	dealMulti := e.create(t, "deals", map[string]any{"name": "Both", "contacts": []string{lose.Id, win.Id, other.Id}, "owner": e.alice.Id})
	dealLoser := e.create(t, "deals", map[string]any{"name": "Loser only", "contacts": []string{lose.Id}, "owner": e.alice.Id})
	act := e.create(t, "activities", map[string]any{"subject": "Call", "type": "call", "contact": lose.Id, "owner": e.alice.Id})
	refs := map[string]string{}
	for _, c := range []struct{ coll, field string }{
		{"workflow_runs", "record_id"}, {"emails", "record_id"}, {"consents", "record_id"},
		{"form_submissions", "record_id"}, {"stage_changes", "record"},
	} {
		refs[c.coll] = e.raw(t, c.coll, map[string]any{"object": "contacts", c.field: lose.Id}).Id
	}
	untouched := e.raw(t, "emails", map[string]any{"object": "deals", "record_id": lose.Id}) // another object's record
	view := e.raw(t, "saved_views", map[string]any{"name": "Mario", "object": "deals", "owner": e.alice.Id,
		"query": map[string]any{"filter": `contacts ?= "` + lose.Id + `"`}})

	res, err := e.svc.Merge(schemas.User(e.alice), dedupe.MergeOptions{Object: "contacts", Winner: win.Id, Loser: lose.Id, Take: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	// Alice's answer names the two deals, the activity and her saved view; the runs, emails,
	// consents, submissions and stage changes, which only managers view, are moved, neither
	// named nor counted (a count is for managers and admins).
	if len(res.Repointed) != 4 || res.RepointedHidden != 0 {
		t.Errorf("repointed %d references and %d hidden: %+v; want 4 and none counted", len(res.Repointed), res.RepointedHidden, res.Repointed)
	}
	w := e.get(t, "contacts", win.Id)
	if w.GetString("email") != "m.rossi@acme.example" || w.GetString("phone") != "+39 02 1234 5678" ||
		w.GetString("company") != acme.Id || w.GetString("job_title") != "CTO" || w.GetString("full_name") != "Mario Rossi" {
		t.Errorf("winner after merge: %v", w.FieldsData())
	}
	if got := w.GetString("tags"); got != `["vip","fiera","newsletter"]` {
		t.Errorf("tags after merge: %s; want both records' tags, the winner's first", got)
	}
	if _, err := e.app.FindRecordById("contacts", lose.Id); err == nil {
		t.Error("the loser still exists")
	}
	if got := e.get(t, "deals", dealMulti.Id).GetStringSlice("contacts"); !slices.Equal(got, []string{win.Id, other.Id}) {
		t.Errorf("multi relation: %v; want the winner once and the other contact", got)
	}
	if got := e.get(t, "deals", dealLoser.Id).GetStringSlice("contacts"); !slices.Equal(got, []string{win.Id}) {
		t.Errorf("multi relation with the loser only: %v", got)
	}
	if got := e.get(t, "activities", act.Id).GetString("contact"); got != win.Id {
		t.Errorf("single relation: %v", got)
	}
	for coll, id := range refs {
		field := "record_id"
		if coll == "stage_changes" {
			field = "record"
		}
		if got := e.get(t, coll, id).GetString(field); got != win.Id {
			t.Errorf("%s.%s: %s; want the winner", coll, field, got)
		}
	}
	if got := e.get(t, "emails", untouched.Id).GetString("record_id"); got != lose.Id {
		t.Errorf("an email of another object was re-pointed")
	}
	if got := e.get(t, "saved_views", view.Id).GetString("query"); !strings.Contains(got, win.Id) || strings.Contains(got, lose.Id) {
		t.Errorf("saved view: %s", got)
	}
	if to, err := dedupe.Redirect(e.app, "contacts", lose.Id); err != nil || to != win.Id {
		t.Errorf("redirect: %q %v", to, err)
	}
	var red struct{ ID string }
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/merges/redirect/contacts/"+lose.Id, e.aliceTok, nil, &red); code != 200 || red.ID != win.Id {
		t.Errorf("redirect API: %d %+v", code, red)
	}
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/merges/redirect/contacts/"+lose.Id, e.carolTok, nil, nil); code != 404 {
		t.Errorf("redirect API for carol, who cannot see the winner: %d; want 404", code)
	}
	entries, err := audit.Find(e.app, audit.Query{Object: "contacts", Record: lose.Id})
	if err != nil || len(entries) != 2 || entries[0].Action != audit.ActionDelete || entries[0].ActorID != e.alice.Id || entries[0].Via != "merge" {
		t.Errorf("audit of the loser: %+v %v", entries, err)
	}

	// undo
	if _, err := e.svc.Undo(schemas.User(e.alice), res.ID); err != nil {
		t.Fatal(err)
	}
	back := e.get(t, "contacts", lose.Id)
	if back.GetString("email") != "m.rossi@acme.example" || back.GetString("phone") != "+39 02 1234 5678" || back.GetString("created") != loserCreated {
		t.Errorf("loser after undo: %v (created %s; want %s)", back.FieldsData(), back.GetString("created"), loserCreated)
	}
	w = e.get(t, "contacts", win.Id)
	if w.GetString("email") != "mario@acme.example" || w.GetString("phone") != "" || w.GetString("company") != "" {
		t.Errorf("winner after undo: %v", w.FieldsData())
	}
	if got := w.GetString("tags"); got != `["vip","fiera"]` {
		t.Errorf("tags after undo: %s", got)
	}
	if got := e.get(t, "deals", dealMulti.Id).GetStringSlice("contacts"); !slices.Equal(got, []string{lose.Id, win.Id, other.Id}) {
		t.Errorf("multi relation after undo: %v", got)
	}
	if got := e.get(t, "activities", act.Id).GetString("contact"); got != lose.Id {
		t.Errorf("single relation after undo: %v", got)
	}
	for coll, id := range refs {
		field := "record_id"
		if coll == "stage_changes" {
			field = "record"
		}
		if got := e.get(t, coll, id).GetString(field); got != lose.Id {
			t.Errorf("%s.%s after undo: %s", coll, field, got)
		}
	}
	if got := e.get(t, "saved_views", view.Id).GetString("query"); !strings.Contains(got, lose.Id) {
		t.Errorf("saved view after undo: %s", got)
	}
	if to, _ := dedupe.Redirect(e.app, "contacts", lose.Id); to != "" {
		t.Errorf("redirect after undo: %q", to)
	}
	if n, _ := e.app.CountRecords("relata_trash"); n != 0 {
		t.Errorf("%d trash entries after undo; want 0 (the record is back)", n)
	}
	if _, err := e.svc.Undo(schemas.User(e.alice), res.ID); err == nil {
		t.Error("a second undo passed")
	}
}

// TestUndoRefusedAfterChange: once a re-pointed record or the winner changed, undo refuses
// and names what changed.
func TestUndoRefusedAfterChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	win := e.create(t, "contacts", map[string]any{"full_name": "A", "owner": e.alice.Id})
	lose := e.create(t, "contacts", map[string]any{"full_name": "A", "phone": "+39 02 1234 5678", "owner": e.alice.Id})
	act := e.create(t, "activities", map[string]any{"subject": "Call", "type": "call", "contact": lose.Id, "owner": e.alice.Id})
	res, err := e.svc.Merge(schemas.System, dedupe.MergeOptions{Object: "contacts", Winner: win.Id, Loser: lose.Id})
	if err != nil {
		t.Fatal(err)
	}
	a := e.get(t, "activities", act.Id)
	a.Set("contact", "")
	if err := e.app.Save(a); err != nil {
		t.Fatal(err)
	}
	w := e.get(t, "contacts", win.Id)
	w.Set("phone", "+39 06 0000 0000")
	if err := e.app.Save(w); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Undo(schemas.System, res.ID)
	if !errors.Is(err, dedupe.ErrChanged) || !strings.Contains(err.Error(), "activities "+act.Id+": field contact") ||
		!strings.Contains(err.Error(), "contacts "+win.Id+": field phone") {
		t.Fatalf("got %v; want ErrChanged naming the activity and the winner's phone", err)
	}
	var out map[string]any
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+res.ID+"/undo", e.su, nil, &out); code != 409 {
		t.Errorf("undo API: %d %v; want 409", code, out)
	}
}

// TestMergeAccess: merging needs the right to view and update both records and to delete the
// loser, through the API as in Go; a record the caller may not view answers as one that is
// not there.
func TestMergeAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	mine := e.create(t, "contacts", map[string]any{"full_name": "A", "owner": e.alice.Id})
	mine2 := e.create(t, "contacts", map[string]any{"full_name": "A2", "owner": e.alice.Id})
	carols := e.create(t, "contacts", map[string]any{"full_name": "A", "owner": e.carol.Id})
	c1 := e.create(t, "companies", map[string]any{"name": "Acme"})
	c2 := e.create(t, "companies", map[string]any{"name": "ACME"})
	for _, s := range []struct {
		name, tok, object, winner, loser string
		want                             int
	}{
		{"anonymous", "", "contacts", mine.Id, mine2.Id, 401},
		// a record alice may not view is not found, as the REST API answers: the merge tells
		// nothing of it, not even that it exists
		{"alice cannot merge carol's contact away", e.aliceTok, "contacts", mine.Id, carols.Id, 404},
		{"alice cannot merge into carol's contact", e.aliceTok, "contacts", carols.Id, mine.Id, 404},
		{"alice cannot delete companies", e.aliceTok, "companies", c1.Id, c2.Id, 403},
		{"unknown record", e.aliceTok, "contacts", mine.Id, "nope", 404},
		{"unknown object", e.aliceTok, "people", mine.Id, mine2.Id, 404},
		{"itself", e.aliceTok, "contacts", mine.Id, mine.Id, 400},
		{"alice merges her own", e.aliceTok, "contacts", mine.Id, mine2.Id, 200},
		{"a manager merges companies", e.mgrTok, "companies", c1.Id, c2.Id, 200},
	} {
		var out map[string]any
		code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merge/"+s.object, s.tok,
			map[string]any{"winner": s.winner, "loser": s.loser}, &out)
		if code != s.want {
			t.Errorf("%s: status %d %v; want %d", s.name, code, out, s.want)
		}
	}
	if _, err := e.app.FindRecordById("contacts", carols.Id); err != nil {
		t.Error("carol's contact was deleted by a refused merge")
	}
	// carol may not undo alice's merge of alice's records
	m, err := e.app.FindFirstRecordByData(dedupe.Collection, "loser", mine2.Id)
	if err != nil {
		t.Fatal(err)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+m.Id+"/undo", e.carolTok, nil, nil); code != 403 {
		t.Errorf("carol undoes alice's merge: %d; want 403", code)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/merges/"+m.Id+"/undo", e.aliceTok, nil, nil); code != 200 {
		t.Errorf("alice undoes her merge: %d; want 200", code)
	}
}

// TestCommands runs `relata duplicates` and `relata merge` (and undo) as cobra commands.
func TestCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	a := e.create(t, "contacts", map[string]any{"full_name": "Ann", "email": "ann@x.example"})
	b := e.create(t, "contacts", map[string]any{"full_name": "Ann B", "email": "Ann+b@x.example", "phone": "+441234567890"})
	run := func(args ...string) (string, error) {
		root := &cobra.Command{Use: "relata"} // fresh flags for every run
		dedupe.MustRegister(e.app, root, dedupe.Config{Registry: e.reg})
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	out, err := run("duplicates", "contacts", "--json")
	// A pair names its records in either order (by id): look for both.
	if err != nil || !strings.Contains(out, `": "`+a.Id+`"`) || !strings.Contains(out, `": "`+b.Id+`"`) || !strings.Contains(out, `"match": "email"`) {
		t.Fatalf("duplicates --json: %v\n%s", err, out)
	}
	if _, err := run("merge", "contacts", a.Id, b.Id, "--field", "email"); err == nil || !strings.Contains(err.Error(), "field=loser") {
		t.Errorf("a bad --field: %v", err)
	}
	if _, err := run("merge", "contacts", a.Id, b.Id, "--field", "nope=loser"); err == nil || !strings.Contains(err.Error(), `no field "nope"`) {
		t.Errorf("an unknown field: %v", err)
	}
	out, err = run("merge", "contacts", a.Id, b.Id, "--field", "email=loser", "--field", "phone=winner")
	if err != nil || !strings.Contains(out, "fields from the loser: email\n") {
		t.Fatalf("merge: %v\n%s", err, out)
	}
	if got := e.get(t, "contacts", a.Id); got.GetString("email") != "ann+b@x.example" || got.GetString("phone") != "" {
		t.Errorf("after merge: email %s, phone %q (kept empty by phone=winner)", got.GetString("email"), got.GetString("phone"))
	}
	found := regexp.MustCompile(`: merge (\w+),`).FindStringSubmatch(out)
	if found == nil {
		t.Fatalf("no merge id in %q", out)
	}
	id := found[1]
	if out, err := run("merge", "undo", id); err != nil || !strings.Contains(out, "is back") {
		t.Fatalf("undo %s: %v\n%s", id, err, out)
	}
	if _, err := e.app.FindRecordById("contacts", b.Id); err != nil {
		t.Error("the loser is not back")
	}
}

// TestMergeRefusesFiles: a loser with files is not merged (its files would go with it).
func TestMergeRefusesFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	coll, err := e.app.FindCollectionByNameOrId("contacts")
	if err != nil {
		t.Fatal(err)
	}
	coll.Fields.Add(&core.FileField{Name: "cv", MaxSelect: 1, MaxSize: 1 << 20})
	if err := e.app.Save(coll); err != nil {
		t.Fatal(err)
	}
	win := e.create(t, "contacts", map[string]any{"full_name": "A"})
	lose := e.create(t, "contacts", map[string]any{"full_name": "A"})
	f, err := filesystem.NewFileFromBytes([]byte("curriculum"), "cv.txt")
	if err != nil {
		t.Fatal(err)
	}
	lose.Set("cv", f)
	if err := e.app.Save(lose); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Merge(schemas.System, dedupe.MergeOptions{Object: "contacts", Winner: win.Id, Loser: lose.Id})
	if err == nil || !strings.Contains(err.Error(), `has files in "cv"`) {
		t.Fatalf("got %v; want a refusal naming the file field", err)
	}
	if _, err := e.app.FindRecordById("contacts", lose.Id); err != nil {
		t.Fatal("the loser is gone")
	}
}
