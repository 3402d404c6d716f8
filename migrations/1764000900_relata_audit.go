package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The audit trail (package schemas/audit): one row per change of a CRM record, appended by
// Relata's record hooks with SQL in the change's transaction. No API rule: only superusers may
// read it through the REST API, and Relata's hooks refuse every create, update and delete of
// its records, theirs included; users read it through Relata's audit endpoints.
func init() {
	m.Register(func(app core.App) error {
		c := core.NewBaseCollection("relata_audit", "pbc_relata_audit")
		c.Fields.Add(
			&core.NumberField{Name: "seq", Required: true, OnlyInt: true, Help: "Position in the trail, from 1, without gaps."},
			&core.TextField{Name: "at", Required: true, Max: 30, Help: "When the change was made (UTC)."},
			&core.TextField{Name: "actor_kind", Required: true, Max: 20, Help: "user, superuser, workflow, import, token or system."},
			&core.TextField{Name: "actor_id", Max: 50, Help: "The user, superuser, workflow run, import batch or token."},
			&core.TextField{Name: "via", Max: 200, Help: "Through what: api, workflow:NAME, import, seed, cli …"},
			&core.TextField{Name: "object", Required: true, Max: 63, Presentable: true},
			&core.TextField{Name: "record", Required: true, Max: 50},
			&core.TextField{Name: "action", Required: true, Max: 10, Help: "create, update, delete or erase."},
			&core.JSONField{Name: "changes", MaxSize: 8 << 20, Help: `{"field": {"old": …, "new": …}}`},
			&core.TextField{Name: "changes_hash", Max: 64},
			&core.BoolField{Name: "erased", Help: "Values replaced by a privacy erasure; the hashes still verify."},
			&core.TextField{Name: "prev_hash", Max: 64},
			&core.TextField{Name: "hash", Required: true, Max: 64},
		)
		c.AddIndex("idx_relata_audit_seq", true, "`seq`", "")
		c.AddIndex("idx_relata_audit_record", false, "`object`, `record`, `seq`", "")
		c.AddIndex("idx_relata_audit_actor", false, "`actor_id`, `seq`", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_audit")
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}
