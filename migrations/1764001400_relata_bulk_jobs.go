package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Bulk jobs: each bulk action on a list (update a field, add or remove tags, change owner,
// delete) and each reassignment of a departing rep's records is one job, with its counts and
// status, polled by the web app. Nobody reads the collection through the API: the job's
// starter and admins read it through /api/relata/bulk/{id}; only the server writes it.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		jobs := core.NewBaseCollection("relata_bulk_jobs", "pbc_relata_bulk_jobs")
		jobs.Fields.Add(
			&core.SelectField{Name: "kind", MaxSelect: 1, Required: true, Values: []string{"bulk", "reassign"}},
			&core.TextField{Name: "object", Max: 63, Help: "The object of a bulk action; empty for a reassignment."},
			&core.TextField{Name: "action", Max: 20, Help: "update, addTags, removeTags, owner, delete or reassign."},
			&core.JSONField{Name: "params", MaxSize: 64 << 10, Help: "What the job was asked to do (field, value, filter, from, to, objects)."},
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Help: "The CRM user who started the job; empty for a superuser or the command line."},
			&core.TextField{Name: "actor", Max: 255, Help: "The starter's email, or \"superuser\"."},
			&core.SelectField{Name: "status", MaxSelect: 1, Required: true, Values: []string{"running", "done", "cancelled", "failed"}},
			&core.NumberField{Name: "total", OnlyInt: true},
			&core.NumberField{Name: "processed", OnlyInt: true},
			&core.NumberField{Name: "changed", OnlyInt: true},
			&core.NumberField{Name: "unchanged", OnlyInt: true},
			&core.NumberField{Name: "refused", OnlyInt: true, Help: "Records the starter may see but not change."},
			&core.NumberField{Name: "failed", OnlyInt: true, Help: "Records whose change was invalid or could not be saved."},
			&core.JSONField{Name: "reasons", MaxSize: 256 << 10, Help: "{reasons: {reason: count}, samples: [{object, id, reason}]}."},
			&core.JSONField{Name: "counts", MaxSize: 16 << 10, Help: "Per object: {object: {total, changed, ...}} (reassignments)."},
			&core.TextField{Name: "error", Max: 2000, Help: "Why a failed job stopped."},
			&core.DateField{Name: "finished"},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		jobs.AddIndex("idx_relata_bulk_jobs_user", false, "`user`, `created`", "")
		return app.Save(jobs)
	}, func(app core.App) error {
		if c, err := app.FindCollectionByNameOrId("relata_bulk_jobs"); err == nil {
			return app.Delete(c)
		}
		return nil
	})
}
