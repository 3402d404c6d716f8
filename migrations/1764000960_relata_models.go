package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Win-probability models (package insights/scoring): one record per trained version, with
// the metrics it scored on the newest 30 % of the closed records and its weights. Admins
// may read them; only `relata score train` writes them.
func init() {
	m.Register(func(app core.App) error {
		const admins = `@request.auth.id != "" && @request.auth.collectionName = "users" && @request.auth.role = "admin"`
		c := core.NewBaseCollection("relata_models", "pbc_relata_models")
		c.ListRule = types.Pointer(admins)
		c.ViewRule = types.Pointer(admins)
		c.Fields.Add(
			&core.TextField{Name: "object", Required: true, Max: 63, Presentable: true},
			&core.NumberField{Name: "version", Required: true, OnlyInt: true, Min: types.Pointer(1.0)},
			&core.DateField{Name: "trained_at", Required: true},
			&core.NumberField{Name: "records", OnlyInt: true, Help: "How many closed records it was trained on."},
			&core.JSONField{Name: "metrics", MaxSize: 64 << 10, Help: "AUC, log loss and Brier score of the model, the frequency baseline and the stage probability on the newest 30 %."},
			&core.JSONField{Name: "weights", MaxSize: 4 << 20, Help: "The model: feature names, standardisation and weights."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		c.AddIndex("idx_relata_models_object_version", true, "`object`, `version`", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_models")
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}
