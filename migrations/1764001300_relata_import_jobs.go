package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Imports started from the web app run as jobs: a batch can end "cancelled" (stopped by its
// user; the chunks written stay and can be undone) or "failed" (stopped by an error, kept in
// "error"), and "rows" counts the data rows read so far (the wizard's progress).
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_import_batches")
		if err != nil {
			return err
		}
		if f, ok := c.Fields.GetByName("status").(*core.SelectField); ok {
			f.Values = []string{"running", "done", "undone", "cancelled", "failed"}
		}
		c.Fields.Add(
			&core.TextField{Name: "error", Max: 2000, Help: "Why a failed import stopped."},
			&core.NumberField{Name: "rows", OnlyInt: true, Help: "Data rows read so far."},
		)
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_import_batches")
		if err != nil {
			return err
		}
		c.Fields.RemoveByName("error")
		c.Fields.RemoveByName("rows")
		if f, ok := c.Fields.GetByName("status").(*core.SelectField); ok {
			f.Values = []string{"running", "done", "undone"}
		}
		return app.Save(c)
	})
}
