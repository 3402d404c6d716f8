package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The round-robin counters of assignment rules: one row per rule (key "form:contact-us#0",
// "workflow:<id>:<step>#0"), seq = turns taken. Written with one upsert in the transaction
// that assigns the record; superusers may look and reset in the dashboard.
func init() {
	m.Register(func(app core.App) error {
		turns := core.NewBaseCollection("relata_assignment_turns", "pbc_relata_assign_turns")
		turns.Fields.Add(
			&core.TextField{Name: "key", Required: true, Max: 300, Presentable: true, Help: "The assignment rule: form or workflow step, and rule number."},
			&core.NumberField{Name: "seq", OnlyInt: true, Help: "Turns taken so far; the next owner is candidate number seq mod (number of candidates)."},
		)
		turns.AddIndex("idx_relata_assignment_turns_key", true, "`key`", "")
		return app.Save(turns)
	}, func(app core.App) error {
		if c, err := app.FindCollectionByNameOrId("relata_assignment_turns"); err == nil {
			return app.Delete(c)
		}
		return nil
	})
}
