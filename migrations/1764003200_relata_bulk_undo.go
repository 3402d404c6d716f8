package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Undo of bulk jobs: each bulk update (field, tags, owner) and reassignment writes, per
// record it changed, the values the changed fields had before and the values it set
// (relata_bulk_changes); POST /api/relata/bulk/{id}/undo restores them within 30 days as an
// "undo" job, leaving records changed since alone. Nobody reads either collection through
// the API: only the server writes and reads them. Form submissions get a "duplicates" field.
func init() {
	m.Register(func(app core.App) error {
		jobs, err := app.FindCollectionByNameOrId("relata_bulk_jobs")
		if err != nil {
			return err
		}
		if kind, ok := jobs.Fields.GetByName("kind").(*core.SelectField); ok {
			kind.Values = append(kind.Values, "undo")
		}
		jobs.Fields.Add(
			&core.TextField{Name: "undo_of", Max: 15, Help: "The job an undo job reverts."},
			&core.TextField{Name: "undone_by", Max: 15, Help: "The undo job that reverted this job."},
		)
		if err := app.Save(jobs); err != nil {
			return err
		}
		changes := core.NewBaseCollection("relata_bulk_changes", "pbc_relata_bulk_chg")
		changes.Fields.Add(
			&core.TextField{Name: "job", Required: true, Max: 15},
			&core.NumberField{Name: "seq", OnlyInt: true},
			&core.TextField{Name: "object", Required: true, Max: 63},
			&core.TextField{Name: "record", Required: true, Max: 15},
			&core.JSONField{Name: "before", MaxSize: 64 << 10, Help: "The changed fields' values before the job."},
			&core.JSONField{Name: "after", MaxSize: 64 << 10, Help: "The values the job set."},
		)
		changes.AddIndex("idx_relata_bulk_changes_job", false, "`job`, `seq`", "")
		if err := app.Save(changes); err != nil {
			return err
		}
		// A form submission whose record may duplicate existing ones is flagged for the team
		// (the submitter is told nothing): [{object, id, score}].
		subs, err := app.FindCollectionByNameOrId("form_submissions")
		if err != nil {
			return err
		}
		subs.Fields.Add(&core.JSONField{Name: "duplicates", MaxSize: 16 << 10, Help: "Existing records the submitted record may duplicate: [{object, id, score}]."})
		return app.Save(subs)
	}, func(app core.App) error {
		if subs, err := app.FindCollectionByNameOrId("form_submissions"); err == nil {
			subs.Fields.RemoveByName("duplicates")
			if err := app.Save(subs); err != nil {
				return err
			}
		}
		if c, err := app.FindCollectionByNameOrId("relata_bulk_changes"); err == nil {
			if err := app.Delete(c); err != nil {
				return err
			}
		}
		jobs, err := app.FindCollectionByNameOrId("relata_bulk_jobs")
		if err != nil {
			return nil
		}
		jobs.Fields.RemoveByName("undo_of")
		jobs.Fields.RemoveByName("undone_by")
		if kind, ok := jobs.Fields.GetByName("kind").(*core.SelectField); ok {
			kind.Values = []string{"bulk", "reassign"}
		}
		return app.Save(jobs)
	})
}
