package schemas_test

import (
	"errors"
	"strconv"
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

// FuzzCheckFilter: the filter guard never panics, and whatever it lets through for alice is
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
	})
}
