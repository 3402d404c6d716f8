package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Incoming webhooks (package schemas/webhooks): signed HTTP posts from other systems that
// create or update records through a mapping, as a chosen user. Admins manage them; the
// signing secret is hidden and shown only when POST /api/relata/webhooks/{id}/secret makes a
// new one. relata_webhook_deliveries remembers delivery ids, so a retried delivery changes
// nothing twice.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		c := core.NewBaseCollection("incoming_webhooks", "pbc_relata_in_webhooks")
		c.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 100, Presentable: true},
			&core.TextField{Name: "slug", Required: true, Max: 60, Pattern: `^[a-z0-9][a-z0-9-]*$`, Help: "The URL is /api/relata/hooks/{slug}."},
			&core.TextField{Name: "object", Required: true, Max: 63, Help: "The object the webhook writes."},
			&core.SelectField{Name: "mode", Values: []string{"create", "update", "upsert"}, MaxSelect: 1, Required: true},
			&core.TextField{Name: "key", Max: 63, Help: "The field that finds the record to update (update, upsert)."},
			&core.JSONField{Name: "mapping", MaxSize: 64 << 10, Help: `{"field": "/json/pointer/into/the/payload", …}`},
			&core.JSONField{Name: "defaults", MaxSize: 64 << 10, Help: `{"field": value, …} set when the payload gives no value.`},
			&core.RelationField{Name: "run_as", CollectionId: users.Id, MaxSelect: 1, Required: true, Help: "Whose access rules apply to the writes."},
			&core.TextField{Name: "secret", Hidden: true, Max: 200, Help: "The HMAC-SHA256 signing secret."},
			&core.BoolField{Name: "enabled"},
			&core.NumberField{Name: "received", OnlyInt: true},
			&core.NumberField{Name: "failed", OnlyInt: true},
			&core.DateField{Name: "last_received"},
			&core.TextField{Name: "last_error", Max: 1000},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		c.AddIndex("idx_incoming_webhooks_slug", true, "`slug`", "")
		admin := `@request.auth.role = "admin"`
		c.ListRule, c.ViewRule = types.Pointer(admin), types.Pointer(admin)
		c.CreateRule, c.UpdateRule, c.DeleteRule = types.Pointer(admin), types.Pointer(admin), types.Pointer(admin)
		if err := app.Save(c); err != nil {
			return err
		}
		d := core.NewBaseCollection("relata_webhook_deliveries", "pbc_relata_webhook_deliv")
		d.Fields.Add(
			&core.TextField{Name: "webhook", Required: true, Max: 50},
			&core.TextField{Name: "delivery", Required: true, Max: 200},
			&core.TextField{Name: "record", Max: 50},
			&core.TextField{Name: "action", Max: 20},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		d.AddIndex("idx_relata_webhook_deliveries", true, "`webhook`, `delivery`", "")
		d.AddIndex("idx_relata_webhook_deliveries_created", false, "`created`", "")
		return app.Save(d)
	}, func(app core.App) error {
		for _, name := range []string{"relata_webhook_deliveries", "incoming_webhooks"} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
