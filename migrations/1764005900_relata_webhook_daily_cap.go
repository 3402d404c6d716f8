package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// A daily cap on incoming webhooks (schemas/webhooks): a sender holding a webhook's secret was
// bounded only by the /api/ rate limit, some 2.6 million records a day per address.
// incoming_webhooks.max_per_day is how many deliveries a webhook accepts within 24 hours (0 or
// empty: the default, 10,000; at most 100,000, webhooks.MaxPerDayLimit). Each delivery counts
// its webhook's rows of relata_webhook_deliveries created in the last 24 hours, up to the cap,
// through idx_relata_webhook_deliveries_webhook (webhook, created).
func init() {
	m.Register(func(app core.App) error {
		w, err := app.FindCollectionByNameOrId("incoming_webhooks")
		if err != nil {
			return err
		}
		w.Fields.Add(&core.NumberField{Name: "max_per_day", OnlyInt: true, Min: types.Pointer(0.0), Max: types.Pointer(100_000.0),
			Help: "Deliveries accepted within 24 hours; 0 or empty: 10,000."})
		if err := app.Save(w); err != nil {
			return err
		}
		d, err := app.FindCollectionByNameOrId("relata_webhook_deliveries")
		if err != nil {
			return err
		}
		d.AddIndex("idx_relata_webhook_deliveries_webhook", false, "`webhook`, `created`", "")
		return app.Save(d)
	}, func(app core.App) error {
		if d, err := app.FindCollectionByNameOrId("relata_webhook_deliveries"); err == nil {
			d.RemoveIndex("idx_relata_webhook_deliveries_webhook")
			if err := app.Save(d); err != nil {
				return err
			}
		}
		w, err := app.FindCollectionByNameOrId("incoming_webhooks")
		if err != nil {
			return nil
		}
		w.Fields.RemoveByName("max_per_day")
		return app.Save(w)
	})
}
