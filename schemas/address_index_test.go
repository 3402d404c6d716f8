package schemas_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestAddressIndex: every email field has an index of its lower-cased address, which a
// look-up by address in any letter case (outbox opt-outs, inbound mail, segment imports)
// seeks rather than reading every record — the default contacts' email, and an email field
// an admin adds in the dashboard at once.
func TestAddressIndex(t *testing.T) {
	app := openApp(t, t.TempDir())
	schemas.MustRegister(app, nil, schemas.Config{WatchInterval: -1})
	srv := serve(t, app)
	su := superuserToken(t, app)
	api := func(method, path string, body, out any) int { return call(t, srv, method, path, su, body, out) }
	addFieldAsDashboard(t, api, "companies", map[string]any{"name": "billing_email", "type": "email"})
	if code := api(http.MethodPost, "/api/collections/contacts/records", map[string]any{"full_name": "Ann", "email": "Ann@Example.com"}, nil); code != http.StatusOK {
		t.Fatalf("create a contact = %d", code)
	}
	// enough records that statistics favour the index over a scan
	err := app.RunInTransaction(func(tx core.App) error {
		for i := range 2000 {
			for table, column := range map[string]string{"contacts": "email", "companies": "billing_email"} {
				_, err := tx.DB().Insert(table, dbx.Params{"id": fmt.Sprintf("x%014d", i), column: fmt.Sprintf("p%d@example.com", i)}).Execute()
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ table, column, index string }{
		{"contacts", "email", "idx_contacts_email_lower"},
		{"companies", "billing_email", "idx_companies_billing_email_lower"},
	} {
		sql := "SELECT [[id]] FROM {{" + c.table + "}} WHERE " + schemas.AddressExpr("{{"+c.table+"}}.[["+c.column+"]]") + " IN ({:a}, {:b})"
		plan := schemastest.QueryPlan(t, app, sql, dbx.Params{"a": "ann@example.com", "b": "bob@example.com"})
		if strings.Count(plan, "USING INDEX "+c.index) != 2 || strings.Contains(plan, "SCAN") {
			t.Errorf("%s by address:\n%s\nwant a search of %s, no scan", c.table, plan, c.index)
		}
	}
	var ids []string
	err = app.DB().NewQuery("SELECT [[id]] FROM {{contacts}} WHERE " + schemas.AddressExpr("[[email]]") + " = {:a}").
		Bind(dbx.Params{"a": strings.ToLower("ANN@example.COM")}).Column(&ids)
	if err != nil || len(ids) != 1 {
		t.Errorf("look-up of Ann@Example.com in another case: %v %v; want her contact", ids, err)
	}
}
