package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// relata_seeded is the ledger of what Relata put into this database on its own: each example
// record, user and workflow loaded by "relata seed" or "serve --seed/--demo" (key
// "<collection>/<id>", "users/<email>", "workflows/<name>"), and defaults applied once at
// first start ("settings/rateLimits"). Seeding consults it so that it never recreates or
// overwrites what users changed or deleted. demo_hash holds the password hash a demo account
// was created with (the published demo password), so "serve" can refuse to listen on a
// public address while the account still has it. No API rules: superusers only.
func init() {
	m.Register(func(app core.App) error {
		c := core.NewBaseCollection("relata_seeded", "pbc_relata_seeded")
		c.System = true
		c.Fields.Add(
			&core.TextField{Name: "key", Required: true, Max: 300, Presentable: true,
				Help: `What was seeded: "<collection>/<id>", "users/<email>", "workflows/<name>" or "settings/<name>".`},
			&core.TextField{Name: "demo_hash", Max: 100, Hidden: true,
				Help: "For demo accounts: the hash of the published password they were created with; while it is still the account's, the demo password opens it."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		c.AddIndex("idx_relata_seeded_key", true, "`key`", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_seeded")
		if err != nil {
			return nil
		}
		c.System = false // system collections cannot be deleted
		if err := app.Save(c); err != nil {
			return err
		}
		return app.Delete(c)
	})
}
