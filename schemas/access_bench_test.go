package schemas_test

import (
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// BenchmarkCheckFilter is the cost the filter guard adds to a list request with a filter and
// a sort: a typical web app list filter (no multi-valued path: no query), and the oracle
// filter of finding 2 (one query to learn that alice lists deals only in part).
func BenchmarkCheckFilter(b *testing.B) {
	app := schemastest.OpenApp(b, b.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		b.Fatal(err)
	}
	alice, _ := schemastest.NewUser(b, app, "alice@example.com", "sales", "north")
	bob, _ := schemastest.NewUser(b, app, "bob@example.com", "sales", "north")
	schemastest.MustCreate(b, app, "deals", map[string]any{"name": "b", "stage": "lead", "owner": bob.Id})
	companies, err := app.FindCollectionByNameOrId("companies")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, filter, sort string }{
		{"app list filter", `(name ~ "acme" || domain ~ "acme") && industry = "software" && owner = "x"`, "-created,name"},
		{"multi-valued path", `deals_via_company.amount < 17200`, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := schemas.User(alice)
			for b.Loop() {
				_ = schemas.CheckFilter(app, companies, c, bc.filter, bc.sort)
			}
		})
	}
}
