package migrations

import (
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Sequences: a workflow's stopIf ends a run with status "stopped" (workflows/sequence.go).
func init() {
	m.Register(func(app core.App) error {
		runs, err := app.FindCollectionByNameOrId("workflow_runs")
		if err != nil {
			return err
		}
		f, ok := runs.Fields.GetByName("status").(*core.SelectField)
		if !ok {
			return nil
		}
		if !slices.Contains(f.Values, "stopped") {
			f.Values = append(f.Values, "stopped")
		}
		return app.Save(runs)
	}, func(app core.App) error {
		runs, err := app.FindCollectionByNameOrId("workflow_runs")
		if err != nil {
			return nil
		}
		if f, ok := runs.Fields.GetByName("status").(*core.SelectField); ok {
			f.Values = slices.DeleteFunc(f.Values, func(v string) bool { return v == "stopped" })
		}
		return app.Save(runs)
	})
}
