package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Sales quotas (the forecast of package insights/scoring compares them with what was won):
// one record per user or team and period. Every CRM user may read them; admins edit them in
// PocketBase's dashboard or through the REST API.
func init() {
	m.Register(func(app core.App) error {
		const (
			signedIn = `@request.auth.id != "" && @request.auth.collectionName = "users"`
			admins   = `@request.auth.id != "" && @request.auth.collectionName = "users" && @request.auth.role = "admin"`
		)
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		c := core.NewBaseCollection("quotas", "pbc_relata_quotas")
		c.ListRule = types.Pointer(signedIn)
		c.ViewRule = types.Pointer(signedIn)
		c.CreateRule = types.Pointer(admins)
		c.UpdateRule = types.Pointer(admins)
		c.DeleteRule = types.Pointer(admins)
		c.Fields.Add(
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, CascadeDelete: true,
				Help: "The rep the quota is for; leave empty for a team quota."},
			&core.TextField{Name: "team", Max: 100, Help: "The team the quota is for (the users' team), when no user is set."},
			&core.SelectField{Name: "period", Required: true, MaxSelect: 1, Values: []string{"month", "quarter"}, Presentable: true},
			&core.DateField{Name: "start", Required: true, Presentable: true,
				Help: "The first day of the month or quarter (a quarter starts in January, April, July or October)."},
			&core.NumberField{Name: "amount", Required: true, Min: types.Pointer(0.0)},
			&core.TextField{Name: "currency", Min: 3, Max: 3, Pattern: `^[A-Z]{3}$`,
				Help: "ISO 4217 code of the amount; empty: the base currency."},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		c.AddIndex("idx_quotas_user_team_period_start", true, "`user`, `team`, `period`, `start`", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("quotas")
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}
