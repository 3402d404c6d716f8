package migrations

import (
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Grouped undo rows (issue 12, import speed): the records an import creates one after the
// other in one object are kept as ONE row of relata_import_changes, action "created_many",
// whose "before" holds the list of [record id, updated stamp] pairs in creation order ("record"
// names the first of them), instead of one row per record. Rows written before this change
// ("created", one per record) keep their meaning: undo reads both.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_import_changes")
		if err != nil {
			return err
		}
		if f, ok := c.Fields.GetByName("action").(*core.SelectField); ok && !slices.Contains(f.Values, "created_many") {
			f.Values = append(f.Values, "created_many")
		}
		if f, ok := c.Fields.GetByName("before").(*core.JSONField); ok {
			f.Help = `The updated fields' values before the import; for "created_many", the created records as [[id, updated stamp], ...] in creation order.`
		}
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_import_changes")
		if err != nil {
			return nil
		}
		if f, ok := c.Fields.GetByName("action").(*core.SelectField); ok {
			f.Values = slices.DeleteFunc(f.Values, func(v string) bool { return v == "created_many" })
		}
		return app.Save(c)
	})
}
