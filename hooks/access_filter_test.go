package hooks_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/subscriptions"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// seededEnv is the default model plus the custom object in testdata/objects (projects, with a
// multiple relation to deals), with the example sales data and projects owned by alice and
// carol.
type seededEnv struct {
	*env
	tokens map[string]string // by user id
}

const (
	alice   = "usralice0000001"
	carol   = "usrcarol0000001"
	manager = "usrmanager00001"
)

func newSeededEnv(t *testing.T) *seededEnv {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("../schemas/objects")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(entries, nil) {
		src := filepath.Join("testdata/objects", "projects.json")
		if e != nil {
			src = filepath.Join("../schemas/objects", e.Name())
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: dir})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	if err := reg.SeedFrom(io.Discard, "../examples/sales"); err != nil {
		t.Fatal(err)
	}
	e := &seededEnv{env: &env{app: app, reg: reg, srv: schemastest.Serve(t, app)}, tokens: map[string]string{}}
	users, err := app.FindAllRecords("users")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		tok, err := u.NewAuthToken()
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.Id] = tok
	}
	// projects: each of alice and carol owns one linking all their deals
	for i, owner := range []string{alice, carol} {
		deals, err := app.FindAllRecords("deals")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range deals {
			if d.GetString("owner") == owner {
				ids = append(ids, d.Id)
			}
		}
		schemastest.MustCreate(t, app, "projects", map[string]any{
			"name": "Project " + owner, "budget": 1000 * (i + 1), "owner": owner, "company": "cmp000000000030", "deals": ids,
		})
	}
	return e
}

type listResult struct {
	Status     int
	Message    string
	TotalItems int
	IDs        []string
}

func (e *seededEnv) list(t *testing.T, user, collection, filter, sort string) listResult {
	t.Helper()
	var out struct {
		Message    string `json:"message"`
		TotalItems int    `json:"totalItems"`
		Items      []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	path := "/api/collections/" + collection + "/records?perPage=500&fields=id&filter=" + encodeQuery(filter)
	if sort != "" {
		path += "&sort=" + encodeQuery(sort)
	}
	st := schemastest.Call(t, e.srv, http.MethodGet, path, e.tokens[user], nil, &out)
	r := listResult{Status: st, Message: out.Message, TotalItems: out.TotalItems}
	for _, it := range out.Items {
		r.IDs = append(r.IDs, it.ID)
	}
	slices.Sort(r.IDs)
	return r
}

// TestFilterOracle reproduces finding 2: alice learnt the amount of carol's deal by filtering
// companies on deals_via_company.amount with "<". The all-match form is now refused with a
// 400 that suggests "?<"; the any-match form applies the deals rule; a manager (who lists
// every deal) may still use "<".
func TestFilterOracle(t *testing.T) {
	e := newSeededEnv(t)
	oracle := `id="cmp000000000030" && deals_via_company.amount < `
	for _, v := range []string{"17200", "17201"} {
		r := e.list(t, alice, "companies", oracle+v, "")
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Message, `"?<"`) || !strings.Contains(r.Message, "deals") {
			t.Fatalf("alice, %s: got %d %q, want a 400 that names deals and suggests ?<", v, r.Status, r.Message)
		}
	}
	a := e.list(t, alice, "companies", `id="cmp000000000030" && deals_via_company.amount ?< 17200`, "")
	b := e.list(t, alice, "companies", `id="cmp000000000030" && deals_via_company.amount ?< 17201`, "")
	if a.Status != 200 || b.Status != 200 || a.TotalItems != b.TotalItems {
		t.Fatalf("any-match form: %+v vs %+v: the answer must not depend on carol's deal", a, b)
	}
	if m := e.list(t, manager, "companies", oracle+"1000000000", ""); m.Status != 200 {
		t.Fatalf("manager lists every deal, the all-match form is fine for them: %+v", m)
	}
	if r := e.list(t, alice, "companies", "", "-deals_via_company.amount"); r.Status != http.StatusBadRequest {
		t.Fatalf("sort through a back-relation: %+v, want 400", r)
	}
}

// TestFilterBoundsBackRelations: a path through two back-relations compares, for each record,
// every record pointing back at every record pointing back (company.contacts_via_company…
// twice: 21 s of a core for one list of 600 contacts in one company). Refused for users —
// managers too, in filters, any-match or not, and sorts, on lists and realtime alike — with
// a 400 naming the path; one back-relation, and multiple relations after it, stay allowed;
// superusers and the system are not bounded.
func TestFilterBoundsBackRelations(t *testing.T) {
	e := newSeededEnv(t)
	two := []struct{ collection, filter, sort string }{
		{"contacts", `company.contacts_via_company.company.contacts_via_company.full_name ?= "nobody"`, ""},
		{"contacts", `company.contacts_via_company.company.contacts_via_company.full_name = "nobody"`, ""},
		{"companies", `deals_via_company.company.deals_via_company.amount ?> 0`, ""},
		{"companies", "", `-contacts_via_company.company.contacts_via_company.full_name`},
	}
	for _, who := range []string{alice, manager} {
		for _, c := range two {
			r := e.list(t, who, c.collection, c.filter, c.sort)
			if r.Status != http.StatusBadRequest || !strings.Contains(r.Message, "2 back-relations") {
				t.Errorf("%s lists %s with %q %q: %d %q, want 400 naming the two back-relations", who, c.collection, c.filter, c.sort, r.Status, r.Message)
			}
		}
	}
	for _, f := range []string{`company.contacts_via_company.full_name ?= "nobody"`, `deals_via_company.contacts.full_name ?= "nobody"`} {
		coll := "contacts"
		if strings.HasPrefix(f, "deals") {
			coll = "companies"
		}
		if r := e.list(t, manager, coll, f, ""); r.Status != http.StatusOK {
			t.Errorf("manager lists %s with %q: %d %q, want 200", coll, f, r.Status, r.Message)
		}
	}
	if err := schemas.CheckFilter(e.app, mustCollection(t, e.app, "contacts"), schemas.System, two[0].filter, ""); err != nil {
		t.Errorf("the system's filter: %v", err)
	}
}

// TestSortByHiddenEmail: PocketBase orders a list by every user's email, hidden or not
// (its filters match only public ones): alice sorting users, or contacts by owner, by email
// learnt her colleagues' order. Such sorts are refused; sorting by name is not; a
// superuser's are not refused.
func TestSortByHiddenEmail(t *testing.T) {
	e := newSeededEnv(t)
	for _, c := range []struct{ collection, sort string }{
		{"users", "email"}, {"users", "-email"}, {"users", "email:lower"}, {"users", "name,-email"},
		{"contacts", "owner.email"}, {"deals", "-owner.email"}, {"activities", "owner.email:lower"},
	} {
		if r := e.list(t, alice, c.collection, "", c.sort); r.Status != http.StatusBadRequest || !strings.Contains(r.Message, "emails of users are hidden") {
			t.Errorf("alice sorts %s by %s: %d %q, want 400", c.collection, c.sort, r.Status, r.Message)
		}
	}
	for _, c := range []struct{ collection, sort string }{{"users", "name"}, {"contacts", "email"}, {"contacts", "owner.name"}} {
		if r := e.list(t, alice, c.collection, "", c.sort); r.Status != http.StatusOK {
			t.Errorf("alice sorts %s by %s: %d %q, want 200", c.collection, c.sort, r.Status, r.Message)
		}
	}
	if err := schemas.CheckFilter(e.app, mustCollection(t, e.app, "users"), schemas.System, "", "-email"); err != nil {
		t.Errorf("the system's sort by email: %v", err)
	}
}

func mustCollection(t *testing.T, app core.App, name string) *core.Collection {
	t.Helper()
	c, err := app.FindCachedCollectionByNameOrId(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFilterGuardEveryPath tries every operator on every relation and back-relation path of
// the default model and of the custom object, as alice. Each answer must be a 400, or the
// same before and after every field value of every record alice may not list is changed:
// the answer must not depend on values she cannot see.
func TestFilterGuardEveryPath(t *testing.T) {
	e := newSeededEnv(t)
	ops := []string{"=", "!=", ">", ">=", "<", "<=", "~", "!~", "?=", "?!=", "?>", "?>=", "?<", "?<=", "?~", "?!~"}
	objects := []string{"companies", "contacts", "deals", "activities", "projects"}
	colls := map[string]*core.Collection{}
	for _, name := range objects {
		c, err := e.app.FindCollectionByNameOrId(name)
		if err != nil {
			t.Fatal(err)
		}
		colls[name] = c
	}
	visible := map[string]map[string]bool{}
	for _, name := range objects {
		visible[name] = map[string]bool{}
		for _, id := range e.list(t, alice, name, "", "").IDs {
			visible[name][id] = true
		}
	}
	// a value of field in a record alice cannot see (the one a probe would search for)
	probe := func(coll *core.Collection, field string) string {
		recs, err := e.app.FindAllRecords(coll.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if visible[coll.Name] != nil && !visible[coll.Name][r.Id] && r.GetString(field) != "" {
				return r.GetString(field)
			}
		}
		if len(recs) > 0 {
			return recs[0].GetString(field)
		}
		return "x"
	}
	leafFields := func(c *core.Collection) []string {
		var out []string
		for _, f := range c.Fields {
			switch f.Type() {
			case core.FieldTypeText, core.FieldTypeNumber, core.FieldTypeEmail:
				if !f.GetHidden() && len(out) < 1 && f.GetName() != "id" {
					out = append(out, f.GetName())
				}
			}
		}
		return out
	}
	type path struct {
		base, path string
		target     *core.Collection
	}
	var paths []path
	for _, name := range objects {
		c := colls[name]
		for _, f := range c.Fields {
			if rf, ok := f.(*core.RelationField); ok {
				target, _ := e.app.FindCollectionByNameOrId(rf.CollectionId)
				paths = append(paths, path{name, rf.Name, target})
			}
		}
		for _, other := range objects {
			for _, f := range colls[other].Fields {
				if rf, ok := f.(*core.RelationField); ok && rf.CollectionId == c.Id {
					paths = append(paths, path{name, other + "_via_" + rf.Name, colls[other]})
				}
			}
		}
	}
	// two hops: deals' company back to every deal of it, contacts back to deals through their
	// company
	paths = append(paths,
		path{"deals", "company.deals_via_company", colls["deals"]},
		path{"contacts", "company.deals_via_company", colls["deals"]},
		path{"projects", "deals.contacts", colls["contacts"]})

	type probeCase struct{ base, filter string }
	var cases []probeCase
	for _, p := range paths {
		for _, leaf := range leafFields(p.target) {
			v := probe(p.target, leaf)
			for _, op := range ops {
				cases = append(cases, probeCase{p.base, fmt.Sprintf("%s.%s %s %q", p.path, leaf, op, v)})
			}
		}
	}
	if len(cases) < 300 {
		t.Fatalf("only %d cases: the model changed?", len(cases))
	}
	before := make([]listResult, len(cases))
	refused := 0
	for i, c := range cases {
		before[i] = e.list(t, alice, c.base, c.filter, "")
		switch before[i].Status {
		case http.StatusOK:
		case http.StatusBadRequest:
			refused++
			// an any-match form is refused only where an empty row would match it: a
			// back-relation into records alice may not all list, by ?!= (see
			// TestBackRelationExistenceOracle)
			if op := strings.Fields(c.filter)[1]; strings.HasPrefix(op, "?") && (op != "?!=" || !strings.Contains(before[i].Message, "an empty row fails")) {
				t.Errorf("%s %s: the any-match form was refused: %s", c.base, c.filter, before[i].Message)
			}
		default:
			t.Fatalf("%s %s: status %d %s", c.base, c.filter, before[i].Status, before[i].Message)
		}
	}
	// change every text and number value of every record alice may not list, behind the
	// API's back (the records stay, and so do their links)
	for _, name := range objects {
		var ids []any
		for id := range visible[name] {
			ids = append(ids, id)
		}
		set := dbx.Params{}
		for _, f := range colls[name].Fields {
			switch f.Type() {
			case core.FieldTypeText, core.FieldTypeEmail:
				if f.GetName() != "id" {
					set[f.GetName()] = dbx.NewExp("'zz' || [[id]] || '@example.com'")
				}
			case core.FieldTypeNumber:
				set[f.GetName()] = 987654321
			}
		}
		if _, err := e.app.DB().Update(name, set, dbx.NotIn("id", ids...)).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	leaks := 0
	for i, c := range cases {
		if before[i].Status != http.StatusOK {
			continue
		}
		after := e.list(t, alice, c.base, c.filter, "")
		if after.Status != http.StatusOK || !slices.Equal(after.IDs, before[i].IDs) {
			leaks++
			t.Errorf("%s %s: answer depends on records alice cannot see: %d items before, %d after", c.base, c.filter, len(before[i].IDs), len(after.IDs))
		}
	}
	t.Logf("%d cases, %d refused, %d answered without leaking", len(cases), refused, len(cases)-refused-leaks)
	if refused == 0 {
		t.Fatal("nothing refused: the guard is not bound")
	}
}

// TestSubscribeFilterGuard: a realtime subscription with the oracle filter is refused too.
func TestSubscribeFilterGuard(t *testing.T) {
	e := newSeededEnv(t)
	clientID := schemastest.RealtimeClient(t, e.srv)
	sub := func(filter string) (int, string) {
		opts, _ := json.Marshal(map[string]any{"query": map[string]string{"filter": filter}})
		var out struct {
			Message string `json:"message"`
		}
		st := schemastest.Call(t, e.srv, http.MethodPost, "/api/realtime", e.tokens[alice], map[string]any{
			"clientId": clientID, "subscriptions": []string{"companies/*?options=" + encodeQuery(string(opts))},
		}, &out)
		return st, out.Message
	}
	if st, msg := sub(`deals_via_company.amount < 17200`); st != http.StatusBadRequest || !strings.Contains(msg, "?<") {
		t.Fatalf("all-match subscription: %d %q, want 400", st, msg)
	}
	if st, msg := sub(`deals_via_company.amount ?< 17200`); st != http.StatusNoContent {
		t.Fatalf("any-match subscription: %d %q, want 204", st, msg)
	}
	// Options PocketBase reads with more leniency than encoding/json into strings or
	// url.ParseQuery: the guard used to skip them, and PocketBase filtered events with them.
	const oracle = `deals_via_company.amount < 17200`
	q := encodeQuery(jsonText(map[string]any{"query": map[string]any{"filter": oracle}}))
	for name, topic := range map[string]string{
		"a query key that is not a string": "companies/*?options=" + encodeQuery(jsonText(map[string]any{"query": map[string]any{"filter": oracle, "x": 1}})),
		"a header that is not a string":    "companies/*?options=" + encodeQuery(jsonText(map[string]any{"query": map[string]any{"filter": oracle}, "headers": map[string]any{"h": true}})),
		"a bad escape in the topic":        "companies/*?options=" + q + "&z=%zz",
		"a semicolon in the topic":         "companies/*?a=1;b=2&options=" + q,
		"the filter a number":              "companies/*?options=" + encodeQuery(`{"query":{"filter":"`+oracle+`","sort":5}}`),
	} {
		var out struct {
			Message string `json:"message"`
		}
		st := schemastest.Call(t, e.srv, http.MethodPost, "/api/realtime", e.tokens[alice], map[string]any{"clientId": clientID, "subscriptions": []string{topic}}, &out)
		if st != http.StatusBadRequest || !strings.Contains(out.Message, "?<") {
			t.Errorf("%s: %d %q, want 400", name, st, out.Message)
		}
	}
}

// TestSubscriptionQueryAsPocketBase: the guard reads a subscription's options.query exactly
// as PocketBase's subscription client stores them, for well-formed and malformed topics.
func TestSubscriptionQueryAsPocketBase(t *testing.T) {
	for _, sub := range subscriptionSeeds {
		checkSubscriptionQuery(t, sub)
	}
}

func FuzzSubscriptionQuery(f *testing.F) {
	for _, s := range subscriptionSeeds {
		f.Add(s)
	}
	f.Fuzz(checkSubscriptionQuery)
}

var subscriptionSeeds = []string{
	"companies/*",
	`companies/*?options={"query":{"filter":"name = 'x'"}}`,
	`companies/*?options=%7B%22query%22%3A%7B%22filter%22%3A%22a%3C1%22%2C%22x%22%3A1%7D%7D`,
	`companies/*?options={"query":{"filter":"a<1"},"headers":{"h":true}}&z=%zz`,
	`companies/*?a=1;b=2&options={"query":{"filter":"a<1","sort":5}}`,
	`companies/*?options={"query":"filter"}`,
	`companies/*?options={"query":{"filter":"a"},"query":{"filter":"b"}}`,
	`deals/abc?options={"query":{"filter":["x"]}}`,
	"%zz?options={}",
}

func checkSubscriptionQuery(t *testing.T, sub string) {
	if sub == "" {
		return // PocketBase skips empty topics
	}
	c := subscriptions.NewDefaultClient()
	c.Subscribe(sub)
	want := c.Subscriptions()[sub].Query
	got := hooks.SubscriptionQuery(sub)
	if len(got) != len(want) {
		t.Fatalf("%q: read %v; PocketBase stores %v", sub, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%q: read %v; PocketBase stores %v", sub, got, want)
		}
	}
}

func callJSON(t *testing.T, e *seededEnv, method, path, token string, body any, out any) int {
	t.Helper()
	return schemastest.Call(t, e.srv, method, path, token, body, out)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRestrictedFieldGuard: a field registered with schemas.RestrictField (here deals'
// amount, for managers) cannot be filtered or sorted by anyone else — on its collection's
// list, through a relation from another collection, or in a realtime subscription — while
// those who may read it, and filters on other fields, pass.
func TestRestrictedFieldGuard(t *testing.T) {
	e := newSeededEnv(t)
	schemas.RestrictField(e.app, schemas.RestrictedField{Collection: "deals", Field: "amount", Message: "for managers",
		May: func(c schemas.Caller) bool { return c.Auth() != nil && c.Auth().GetString("role") == "manager" }})
	refused := []struct{ collection, filter, sort string }{
		{"deals", "amount > 5", ""},
		{"deals", `(name != "" || amount:isset = true)`, ""},
		{"deals", "", "-amount"},
		{"deals", "", "name,amount"},
		{"companies", "deals_via_company.amount ?> 5", ""},
		{"contacts", "", "company.deals_via_company.amount"},
	}
	for _, c := range refused {
		if r := e.list(t, alice, c.collection, c.filter, c.sort); r.Status != http.StatusBadRequest || !strings.Contains(r.Message, "deals.amount: for managers") {
			t.Errorf("alice lists %s with %q %q: %d %q, want 400", c.collection, c.filter, c.sort, r.Status, r.Message)
		}
		if r := e.list(t, manager, c.collection, c.filter, c.sort); r.Status != http.StatusOK {
			t.Errorf("manager lists %s with %q %q: %d %q, want 200", c.collection, c.filter, c.sort, r.Status, r.Message)
		}
	}
	for _, c := range []struct{ collection, filter, sort string }{{"deals", `name != ""`, "-name"}, {"companies", `deals_via_company.name ?!= ""`, ""}} {
		if r := e.list(t, alice, c.collection, c.filter, c.sort); r.Status != http.StatusOK {
			t.Errorf("alice lists %s with %q %q: %d %q, want 200", c.collection, c.filter, c.sort, r.Status, r.Message)
		}
	}
	client := schemastest.RealtimeClient(t, e.srv)
	if st, msg := schemastest.Subscribe(t, e.srv, client, e.tokens[alice], "deals/*", map[string]string{"filter": "amount > 17200"}); st != http.StatusBadRequest || !strings.Contains(msg, "deals.amount") {
		t.Errorf("alice subscribes to deals by amount: %d %q, want 400", st, msg)
	}
	if st, msg := schemastest.Subscribe(t, e.srv, client, e.tokens[alice], "companies/*", map[string]string{"filter": "deals_via_company.amount ?> 17200"}); st != http.StatusBadRequest {
		t.Errorf("alice subscribes to companies by their deals' amount: %d %q, want 400", st, msg)
	}
}
