package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Money in several currencies: the organisation's settings (one record holding the base
// currency every total is converted to, EUR by default) and the exchange rates (how much one
// unit of a currency is worth in a base currency, from an effective date on; only the rates to
// the current base currency are used). Signed-in CRM
// users read both; CRM admins (and superusers, in the dashboard) edit them.
const ruleMoneyAdmins = `@request.auth.id != "" && @request.auth.collectionName = "users" && @request.auth.role = "admin"`

func init() {
	m.Register(func(app core.App) error {
		settings := core.NewBaseCollection("relata_settings", "pbc_relata_settings")
		settings.ListRule = types.Pointer(ruleWebappSignedIn)
		settings.ViewRule = types.Pointer(ruleWebappSignedIn)
		settings.UpdateRule = types.Pointer(ruleMoneyAdmins)
		settings.Fields.Add(
			&core.TextField{Name: "base_currency", Required: true, Min: 3, Max: 3, Pattern: `^[A-Z]{3}$`, Presentable: true,
				Help: "ISO 4217 code every total is converted to. Exchange rates are rates to this currency: change them with it."},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		if err := app.Save(settings); err != nil {
			return err
		}
		rec := core.NewRecord(settings)
		rec.Set("base_currency", "EUR")
		if err := app.Save(rec); err != nil {
			return err
		}

		rates := core.NewBaseCollection("exchange_rates", "pbc_relata_exchange_rates")
		rates.ListRule = types.Pointer(ruleWebappSignedIn)
		rates.ViewRule = types.Pointer(ruleWebappSignedIn)
		rates.CreateRule = types.Pointer(ruleMoneyAdmins)
		rates.UpdateRule = types.Pointer(ruleMoneyAdmins)
		rates.DeleteRule = types.Pointer(ruleMoneyAdmins)
		rates.Fields.Add(
			&core.TextField{Name: "currency", Required: true, Min: 3, Max: 3, Pattern: `^[A-Z]{3}$`, Presentable: true,
				Help: "ISO 4217 code of the currency converted."},
			&core.TextField{Name: "base", Required: true, Min: 3, Max: 3, Pattern: `^[A-Z]{3}$`,
				Help: "ISO 4217 code the rate converts to: the base currency when the rate was entered. Rates to another base are not used."},
			&core.NumberField{Name: "rate", Required: true, Min: types.Pointer(0.0),
				Help: "What one unit of the currency is worth in the base currency (e.g. 1.17 for GBP with base EUR)."},
			&core.DateField{Name: "effective", Required: true, Presentable: true,
				Help: "The rate holds from this date until the next rate of the same currency."},
			&core.TextField{Name: "source", Max: 200, Help: "Where the rate comes from (e.g. ECB reference rate)."},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		rates.AddIndex("idx_exchange_rates_currency_effective", true, "`base`, `currency`, `effective`", "")
		return app.Save(rates)
	}, func(app core.App) error {
		for _, name := range []string{"exchange_rates", "relata_settings"} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
