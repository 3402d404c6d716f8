package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Imports: each spreadsheet import is a batch (who, when, which file, the mapping, the
// counts), and each record it created or updated a change (the previous values of the
// updated fields, and the record's "updated" time right after the import, which tells
// whether someone changed it since). Admins and managers read batches; only the server
// writes them.
const ruleImportReaders = `@request.auth.id != "" && @request.auth.collectionName = "users" && (@request.auth.role = "admin" || @request.auth.role = "manager")`

func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		batches := core.NewBaseCollection("relata_import_batches", "pbc_relata_import_batches")
		batches.ListRule = types.Pointer(ruleImportReaders)
		batches.ViewRule = types.Pointer(ruleImportReaders)
		batches.Fields.Add(
			&core.TextField{Name: "object", Required: true, Max: 63, Help: "The object (collection) imported into."},
			&core.TextField{Name: "file", Max: 500, Presentable: true, Help: "The imported file's name."},
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Help: "The CRM user who imported; empty for a superuser."},
			&core.TextField{Name: "actor", Max: 255, Help: "The importer's email, or \"superuser\"."},
			&core.SelectField{Name: "mode", MaxSelect: 1, Values: []string{"create", "update", "upsert"}},
			&core.TextField{Name: "key", Max: 63, Help: "The field that matched rows to existing records."},
			&core.JSONField{Name: "mapping", MaxSize: 256 << 10, Help: "Column heading -> field name."},
			&core.JSONField{Name: "counts", MaxSize: 4 << 10, Help: "{created, updated, unchanged, failed, related}."},
			&core.BoolField{Name: "workflows", Help: "Whether imported rows triggered workflows."},
			&core.SelectField{Name: "status", MaxSelect: 1, Required: true, Values: []string{"running", "done", "undone"}},
			&core.DateField{Name: "undone_at"},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		batches.AddIndex("idx_relata_import_batches_created", false, "`created`", "")
		if err := app.Save(batches); err != nil {
			return err
		}
		changes := core.NewBaseCollection("relata_import_changes", "pbc_relata_import_changes")
		changes.Fields.Add(
			&core.RelationField{Name: "batch", Required: true, CollectionId: batches.Id, MaxSelect: 1, CascadeDelete: true},
			&core.NumberField{Name: "seq", OnlyInt: true, Help: "Order of the change in the batch; undo goes backwards."},
			&core.TextField{Name: "object", Required: true, Max: 63},
			&core.TextField{Name: "record", Required: true, Max: 15},
			&core.SelectField{Name: "action", MaxSelect: 1, Required: true, Values: []string{"created", "updated"}},
			&core.JSONField{Name: "before", MaxSize: 1 << 20, Help: "The updated fields' values before the import."},
			&core.TextField{Name: "stamp", Max: 40, Help: "The record's updated time right after the import."},
		)
		changes.AddIndex("idx_relata_import_changes_batch", false, "`batch`, `seq`", "")
		return app.Save(changes)
	}, func(app core.App) error {
		for _, name := range []string{"relata_import_changes", "relata_import_batches"} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
