package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// The web app's collections: the stage history of records (written by Relata's record hooks,
// read by managers through the REST API and by everyone through Relata's timeline and insights
// endpoints, which check access to the record), and the saved list views of users (own views,
// plus the ones colleagues share).
const (
	ruleWebappManagers = `@request.auth.id != "" && @request.auth.collectionName = "users" && (@request.auth.role = "admin" || @request.auth.role = "manager")`
	ruleWebappSignedIn = `@request.auth.id != "" && @request.auth.collectionName = "users"`
)

func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}

		changes := core.NewBaseCollection("stage_changes", "pbc_relata_stage_changes")
		changes.ListRule = types.Pointer(ruleWebappManagers)
		changes.ViewRule = types.Pointer(ruleWebappManagers)
		changes.Fields.Add(
			&core.TextField{Name: "object", Required: true, Max: 63, Help: "The object (collection) of the record."},
			&core.TextField{Name: "record", Required: true, Max: 15, Help: "The id of the record whose stage changed."},
			&core.TextField{Name: "field", Required: true, Max: 63, Help: "The stage field."},
			&core.TextField{Name: "from", Max: 100, Help: "The stage before; empty when the record was created."},
			&core.TextField{Name: "to", Max: 100, Presentable: true, Help: "The stage after."},
			&core.RelationField{Name: "changed_by", CollectionId: users.Id, MaxSelect: 1,
				Help: "The CRM user who changed it; empty for workflows, imports and the system."},
			&core.DateField{Name: "at", Required: true, Help: "When the record entered the stage (the record's own timestamp)."},
		)
		changes.AddIndex("idx_stage_changes_record", false, "`object`, `record`, `at`", "")
		changes.AddIndex("idx_stage_changes_object", false, "`object`, `field`, `at`", "")
		if err := app.Save(changes); err != nil {
			return err
		}

		views := core.NewBaseCollection("saved_views", "pbc_relata_saved_views")
		mine := ruleWebappSignedIn + ` && owner = @request.auth.id`
		views.ListRule = types.Pointer(ruleWebappSignedIn + ` && (owner = @request.auth.id || shared = true)`)
		views.ViewRule = views.ListRule
		views.CreateRule = types.Pointer(mine)
		views.UpdateRule = types.Pointer(mine + ` && (@request.body.owner:isset = false || @request.body.owner = @request.auth.id)`)
		views.DeleteRule = types.Pointer(mine)
		views.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 100, Presentable: true},
			&core.TextField{Name: "object", Required: true, Max: 63},
			&core.RelationField{Name: "owner", Required: true, CollectionId: users.Id, MaxSelect: 1, CascadeDelete: true},
			&core.BoolField{Name: "shared", Help: "Shared views are listed for every signed-in user."},
			&core.JSONField{Name: "query", MaxSize: 64 << 10,
				Help: `The view: {"search", "filters": [{"field", "op", "value"}], "sort", "columns"}.`},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		views.AddIndex("idx_saved_views_owner_object", false, "`owner`, `object`", "")
		return app.Save(views)
	}, func(app core.App) error {
		for _, name := range []string{"saved_views", "stage_changes"} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
