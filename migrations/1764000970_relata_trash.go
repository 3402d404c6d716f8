package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The trash (package hooks writes it, package schemas/trash reads, restores and purges it): a
// copy of every CRM record deleted through PocketBase, written in the delete's transaction,
// kept for 30 days. No API rule: only superusers may read it through the REST API; users list
// and restore what they may see through Relata's trash endpoints. Privacy erasures and
// retention delete with SQL and leave no copy here.
func init() {
	m.Register(func(app core.App) error {
		c := core.NewBaseCollection("relata_trash", "pbc_relata_trash")
		c.Fields.Add(
			&core.TextField{Name: "object", Required: true, Max: 63, Presentable: true, Help: "The collection the record was deleted from."},
			&core.TextField{Name: "record", Required: true, Max: 50, Help: "The deleted record's id, which a restore gives back."},
			&core.TextField{Name: "title", Max: 300, Help: "The record's title when it was deleted."},
			&core.JSONField{Name: "data", MaxSize: 8 << 20, Help: "The record's fields when it was deleted."},
			&core.JSONField{Name: "links", MaxSize: 8 << 20, Help: `The records that linked to it: [{"collection", "record", "field"}], linked again by a restore.`},
			&core.TextField{Name: "owner", Max: 50, Help: "The record's owner when it was deleted (the access policy's owner field)."},
			&core.TextField{Name: "deleted_by", Max: 50, Help: "The user or superuser who deleted it; empty for the system."},
			&core.TextField{Name: "deleted_by_kind", Max: 20, Help: "user, superuser, workflow, import, token or system."},
			&core.DateField{Name: "deleted_at", Required: true},
		)
		c.AddIndex("idx_relata_trash_record", false, "`object`, `record`", "")
		c.AddIndex("idx_relata_trash_deleted_at", false, "`deleted_at`", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_trash")
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}
