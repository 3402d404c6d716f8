package schemas_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

type accessEnv struct {
	app               core.App
	alice, bob, carol *core.Record
	mgr               *core.Record
}

// newAccessEnv: the default model; alice and bob in team north, carol in south, a manager;
// 1,001 deals of alice, then 1,001 newer deals of bob (so a limit applied before access would
// see only bob's), and one contact per sales user.
func newAccessEnv(t testing.TB) *accessEnv {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	e := &accessEnv{app: app}
	e.alice, _ = schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	e.bob, _ = schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	e.carol, _ = schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	e.mgr, _ = schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	co := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Shared"})
	err := app.RunInTransaction(func(tx core.App) error {
		coll, err := tx.FindCollectionByNameOrId("deals")
		if err != nil {
			return err
		}
		for _, owner := range []*core.Record{e.alice, e.bob} {
			for i := range 1001 {
				d := core.NewRecord(coll)
				d.Set("name", owner.Email()+" "+strconv.Itoa(i))
				d.Set("stage", "lead")
				d.Set("amount", i)
				d.Set("owner", owner.Id)
				d.Set("company", co.Id)
				if err := tx.Save(d); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*core.Record{e.alice, e.bob, e.carol} {
		schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": u.Email() + "'s contact", "owner": u.Id})
	}
	return e
}

func TestFind(t *testing.T) {
	e := newAccessEnv(t)
	tests := []struct {
		name    string
		caller  schemas.Caller
		q       schemas.Query
		want    int
		owner   string // every record found must have this owner ("" skips)
		wantErr string // the AccessError's Where ("" when it must succeed)
	}{
		{"limit applies after access", schemas.User(e.alice), schemas.Query{Object: "deals", Limit: 5}, 5, e.alice.Id, ""},
		{"no limit is FindMaxLimit", schemas.User(e.alice), schemas.Query{Object: "deals"}, schemas.FindMaxLimit, e.alice.Id, ""},
		{"the 1,001st of her deals through offset", schemas.User(e.alice), schemas.Query{Object: "deals", Offset: 1000}, 1, e.alice.Id, ""},
		{"filter and params", schemas.User(e.alice), schemas.Query{Object: "deals", Filter: "amount >= {:min}", Params: dbx.Params{"min": 991}}, 10, e.alice.Id, ""},
		{"filter on another's records finds nothing", schemas.User(e.alice), schemas.Query{Object: "deals", Filter: "owner = {:o}", Params: dbx.Params{"o": e.bob.Id}}, 0, "", ""},
		{"sort", schemas.User(e.alice), schemas.Query{Object: "deals", Sort: "-amount", Limit: 1}, 1, e.alice.Id, ""},
		{"team scope", schemas.User(e.alice), schemas.Query{Object: "contacts"}, 2, "", ""},
		{"other team", schemas.User(e.carol), schemas.Query{Object: "contacts"}, 1, e.carol.Id, ""},
		{"manager reads all", schemas.User(e.mgr), schemas.Query{Object: "deals", Filter: "amount = 7"}, 2, "", ""},
		{"the system reads all", schemas.System, schemas.Query{Object: "deals", Filter: "amount = 7"}, 2, "", ""},
		{"a guest reads nothing", schemas.User(nil), schemas.Query{Object: "deals"}, 0, "", ""},
		{"system collections are refused", schemas.User(e.mgr), schemas.Query{Object: schemas.SecretsCollection}, 0, "", "object"},
		{"system collections are refused to the system", schemas.System, schemas.Query{Object: core.CollectionNameSuperusers}, 0, "", "object"},
		{"@collection is refused", schemas.User(e.alice), schemas.Query{Object: "deals", Filter: `@collection.relata_secrets.value ?>= ""`}, 0, "", "filter"},
		{"@collection is refused to the system", schemas.System, schemas.Query{Object: "deals", Filter: `@collection.users.email ?!= ""`}, 0, "", "filter"},
		{"@request is refused", schemas.User(e.alice), schemas.Query{Object: "deals", Filter: `@request.auth.id != ""`}, 0, "", "filter"},
		{"hidden fields are refused", schemas.User(e.alice), schemas.Query{Object: "deals", Filter: `owner.password != ""`}, 0, "", "filter"},
		{"hidden fields are refused to the system", schemas.System, schemas.Query{Object: "deals", Sort: "owner.tokenKey"}, 0, "", "sort"},
		{"all-match through a multi-valued path is refused", schemas.User(e.alice), schemas.Query{Object: "companies", Filter: "deals_via_company.amount < 500"}, 0, "", "filter"},
		{":each through a single relation reads only the joined record", schemas.User(e.alice), schemas.Query{Object: "activities", Filter: `deal.contacts:each = "x"`}, 0, "", ""},
		{":each through a multi-valued path is refused", schemas.User(e.alice), schemas.Query{Object: "companies", Filter: `deals_via_company.contacts:each = "x"`}, 0, "", "filter"},
		{"its any-match form is not", schemas.User(e.alice), schemas.Query{Object: "companies", Filter: "deals_via_company.amount ?< 500"}, 1, "", ""},
		{"unknown object", schemas.User(e.alice), schemas.Query{Object: "nope"}, 0, "", "object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := schemas.Find(e.app, tt.caller, tt.q)
			if tt.wantErr != "" {
				var ae *schemas.AccessError
				if !errors.As(err, &ae) || ae.Where != tt.wantErr || !errors.Is(err, schemas.ErrForbidden) {
					t.Fatalf("err = %v, want an AccessError at %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tt.want {
				t.Fatalf("%d records, want %d", len(recs), tt.want)
			}
			for _, r := range recs {
				if tt.owner != "" && r.GetString("owner") != tt.owner {
					t.Fatalf("found %s of %s", r.Id, r.GetString("owner"))
				}
			}
		})
	}
}

func TestCanViewAndVisible(t *testing.T) {
	e := newAccessEnv(t)
	bobsDeal, err := e.app.FindFirstRecordByData("deals", "owner", e.bob.Id)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := e.app.FindCollectionByNameOrId(schemas.SecretsCollection)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		caller schemas.Caller
		rec    *core.Record
		want   bool
	}{
		{"owner", schemas.User(e.bob), bobsDeal, true},
		{"teammate, owner-scoped object", schemas.User(e.alice), bobsDeal, false},
		{"manager", schemas.User(e.mgr), bobsDeal, true},
		{"guest", schemas.User(nil), bobsDeal, false},
		{"system", schemas.System, bobsDeal, true},
		{"system, system collection", schemas.System, core.NewRecord(secret), false},
		{"users see users", schemas.User(e.alice), e.carol, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.caller.CanView(e.app, tt.rec)
			if err != nil || got != tt.want {
				t.Fatalf("CanView = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if ok, err := schemas.CanView(e.app, bobsDeal, e.alice); ok || err != nil {
		t.Errorf("CanView(alice, bob's deal) = %v, %v", ok, err)
	}
	// emails: private unless made visible, except to the user themself and superusers
	if v := schemas.Visible(e.carol, schemas.System); v["email"] != "" || v["password"] != nil || v["tokenKey"] != nil {
		t.Errorf("the system sees %v", v)
	}
	if v := schemas.Visible(e.carol, schemas.User(e.carol)); v["email"] != "carol@example.com" {
		t.Errorf("carol sees her own email as %v", v["email"])
	}
	e.carol.Set("emailVisibility", true)
	if v := schemas.Visible(e.carol, schemas.User(e.alice)); v["email"] != "carol@example.com" {
		t.Errorf("a visible email reads %v", v["email"])
	}
}

// FuzzCheckFilter: the filter guard (CheckFilter and CheckSystemFilter) never panics, and whatever it lets through for alice is
// refused by Find only for reasons other than the guard.
func FuzzCheckFilter(f *testing.F) {
	for _, s := range []string{
		`deals_via_company.amount < 17200`, `deals_via_company.amount ?< 1`, `company.deals_via_company.name ~ "x"`,
		`contacts.email = "a" || (owner.team != "" && amount > 1)`, `geoDistance(a, b, c, d) < 1`, `x.y.z.w = 1`,
		`deals_via_company.contacts:length > 1`, `(((`, `"a" = deals_via_company.name`, `@collection.deals.amount < 1`,
	} {
		f.Add(s)
	}
	e := newAccessEnv(f)
	companies, err := e.app.FindCollectionByNameOrId("companies")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		_ = schemas.CheckFilter(e.app, companies, schemas.User(e.alice), filter, filter)
		_ = schemas.CheckSystemFilter(e.app, companies, filter, filter, func(string) bool { return true }, "workflows")
	})
}

// TestSystemFilterBoundsDifferentBackRelations: CheckFilter bounded the different
// back-relations a user's list joins (two multiply: 40 s of a core, then an error), but
// CheckSystemFilter — workflows' reads, which hold the database writer, and public pickers,
// read on every page view — bounded only the back-relations of each path. It refuses more
// than MaxBackRelations different ones in the filter and sort together now, naming the first
// path that joins one too many and whether it is in the filter or the sort.
func TestSystemFilterBoundsDifferentBackRelations(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	isObject := func(name string) bool { _, ok := reg.Object(name); return ok }
	check := func(collection, filter, sort string) error {
		t.Helper()
		coll, err := app.FindCollectionByNameOrId(collection)
		if err != nil {
			t.Fatal(err)
		}
		return schemas.CheckSystemFilter(app, coll, filter, sort, isObject, "workflows")
	}
	refused := []struct {
		name, collection, filter, sort string
		where, path                    string // of the refusal: the first path joining one too many
	}{
		{"two through a relation", "contacts", `company.contacts_via_company.full_name ?~ "" && company.activities_via_company.subject ?~ ""`, "",
			"filter", "company.activities_via_company.subject"},
		{"two from the base", "companies", `deals_via_company.name ?~ "b" && contacts_via_company.full_name ?~ "a"`, "",
			"filter", "contacts_via_company.full_name"},
		{"in a group", "companies", `contacts_via_company.full_name ?~ "a" && (name = "x" || deals_via_company.name ?~ "b")`, "",
			"filter", "deals_via_company.name"},
		{"through a multiple relation back", "contacts", `deals_via_contacts.name ?~ "a" && activities_via_contact.subject ?~ "b"`, "",
			"filter", "activities_via_contact.subject"},
		{"three", "users", `contacts_via_owner.full_name ?~ "a" && activities_via_owner.subject ?~ "a" && deals_via_owner.name ?~ "a"`, "",
			"filter", "activities_via_owner.subject"},
		{"in a function's argument", "companies", `contacts_via_company.full_name ?~ "a" && strftime("%Y", activities_via_company.created) ?= "2026"`, "",
			"filter", "activities_via_company.created"},
		{"on both sides", "companies", `deals_via_company.name ?= contacts_via_company.full_name`, "",
			"filter", "contacts_via_company.full_name"},
		{"the filter one, the sort another", "companies", `deals_via_company.stage ?= "won"`, "-contacts_via_company.full_name",
			"sort", "contacts_via_company.full_name"},
		{"two in the sort", "companies", "", "deals_via_company.name,contacts_via_company.full_name,id",
			"sort", "contacts_via_company.full_name"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			err := check(c.collection, c.filter, c.sort)
			var ae *schemas.AccessError
			if !errors.As(err, &ae) || !errors.Is(err, schemas.ErrForbidden) {
				t.Fatalf("%s %q sort %q: %v; want an AccessError", c.collection, c.filter, c.sort, err)
			}
			if ae.Where != c.where || ae.Path != c.path || !strings.Contains(ae.Message, "different back-relations") {
				t.Errorf("%s %q sort %q: %s %q %q; want %s %q naming the different back-relations", c.collection, c.filter, c.sort, ae.Where, ae.Path, ae.Message, c.where, c.path)
			}
		})
	}
	allowed := []struct{ collection, filter, sort string }{
		{"companies", `deals_via_company.stage ?= "won" && deals_via_company.amount ?> 1000 && deals_via_company.name ?~ "a"`, ""},
		{"companies", `deals_via_company.stage ?= "won"`, "deals_via_company.name,-name"},
		{"contacts", `company.country != "x" && deals_via_contacts.stage ?= "won" && deals_via_contacts.amount ?> 10`, ""},
		// forward relations, multiple ones too, hold a bounded list of ids: not counted
		{"deals", `contacts.full_name ?~ "a" && company.name ?~ "a" && owner.name != "" && activities_via_deal.subject ?~ "a"`, "company.name"},
		{"deals", `name ~ "a"`, "-amount,id"},
	}
	for _, c := range allowed {
		if err := check(c.collection, c.filter, c.sort); err != nil {
			t.Errorf("%s %q sort %q: %v; want allowed", c.collection, c.filter, c.sort, err)
		}
	}
	// a user's list gets the same refusal, located the same way
	coll, err := app.FindCollectionByNameOrId("companies")
	if err != nil {
		t.Fatal(err)
	}
	mgr, _ := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	var ae *schemas.AccessError
	if err := schemas.CheckFilter(app, coll, schemas.User(mgr), `deals_via_company.stage ?= "won"`, "contacts_via_company.full_name"); !errors.As(err, &ae) || ae.Where != "sort" {
		t.Errorf("a manager's filter through one back-relation, sorted through another: %v; want refused in the sort", err)
	}
}
