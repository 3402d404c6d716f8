package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// workflow_events holds record changes that triggered several workflows, until the engine
// turns each into its runs (workflows/events.go). The change writes this one row in its
// transaction instead of one workflow_runs row per triggered workflow; the engine writes the
// runs and deletes the row in one transaction of its own, so a change's runs exist exactly
// once. Rows live for milliseconds; no API rule (superusers only).
func init() {
	m.Register(func(app core.App) error {
		events := core.NewBaseCollection("workflow_events", "pbc_relata_workflow_events")
		events.Fields.Add(
			&core.TextField{Name: "object", Max: 63},
			&core.TextField{Name: "record_id", Max: 15},
			&core.TextField{Name: "event", Max: 40},
			&core.TextField{Name: "actor", Max: 15},
			&core.NumberField{Name: "depth", OnlyInt: true},
			&core.JSONField{Name: "input", MaxSize: 4 << 20, Help: "The change as its runs see it (record, old values, changed fields, user)."},
			&core.JSONField{Name: "runs", MaxSize: 1 << 20, Help: "The runs to queue: workflow id and name, status and error when not run."},
			&core.DateField{Name: "next_at", Help: "When the runs are due."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		return app.Save(events)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("workflow_events")
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}
