package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// An import is undone in transactions of up to a thousand records each, so that undoing a
// large import holds memory for one chunk, not for every record. "undo_done" counts the
// records an undo has been through; an undo stopped midway (an error, a crash) kept what its
// committed chunks did, and the next undo of the batch continues from there.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_import_batches")
		if err != nil {
			return err
		}
		if c.Fields.GetByName("undo_done") == nil {
			c.Fields.Add(&core.NumberField{Name: "undo_done", OnlyInt: true,
				Help: "Records an undo has been through so far; an undo stopped midway continues from here."})
		}
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_import_batches")
		if err != nil {
			return err
		}
		c.Fields.RemoveByName("undo_done")
		return app.Save(c)
	})
}
