package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Rules of the workflow collections: admins and managers own automation; sales users read
// the runs of records (the web app shows them on timelines through Relata's API).
const (
	ruleManagers = `@request.auth.id != "" && @request.auth.collectionName = "users" && (@request.auth.role = "admin" || @request.auth.role = "manager")`
)

func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}

		workflows := core.NewBaseCollection("workflows", "pbc_relata_workflows")
		workflows.ListRule = types.Pointer(ruleManagers)
		workflows.ViewRule = types.Pointer(ruleManagers)
		workflows.CreateRule = types.Pointer(ruleManagers)
		workflows.UpdateRule = types.Pointer(ruleManagers)
		workflows.DeleteRule = types.Pointer(ruleManagers)
		workflows.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 100, Pattern: `^[a-z0-9][a-z0-9_-]*$`, Presentable: true,
				Help: "Unique name: lowercase letters, digits, - and _."},
			&core.TextField{Name: "description", Max: 1000},
			&core.BoolField{Name: "enabled"},
			&core.TextField{Name: "object", Max: 63, Help: "Filled from the definition."},
			&core.JSONField{Name: "definition", Required: true, MaxSize: 1 << 20,
				Help: "The workflow: trigger, condition, actions (see README, Workflows)."},
			&core.DateField{Name: "enabled_at", Help: "When the workflow was last enabled; date triggers fire only for dates after it."},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		workflows.AddIndex("idx_workflows_name", true, "`name`", "")
		if err := app.Save(workflows); err != nil {
			return err
		}

		runs := core.NewBaseCollection("workflow_runs", "pbc_relata_workflow_runs")
		runs.ListRule = types.Pointer(ruleManagers)
		runs.ViewRule = types.Pointer(ruleManagers)
		runs.Fields.Add(
			&core.RelationField{Name: "workflow", CollectionId: workflows.Id, MaxSelect: 1, CascadeDelete: true},
			&core.TextField{Name: "workflow_name", Max: 100, Presentable: true},
			&core.TextField{Name: "object", Max: 63},
			&core.TextField{Name: "record_id", Max: 15},
			&core.TextField{Name: "event", Max: 40},
			&core.SelectField{Name: "status", MaxSelect: 1, Required: true,
				Values: []string{"pending", "running", "waiting", "retry", "succeeded", "failed", "dead", "skipped"}},
			&core.NumberField{Name: "attempts", OnlyInt: true},
			&core.DateField{Name: "next_at", Help: "When a worker may pick the run up (retries, waits)."},
			&core.DateField{Name: "lease_until", Help: "A running run whose lease expired was interrupted and is resumed."},
			&core.NumberField{Name: "depth", OnlyInt: true, Help: "How many workflow runs led to this one."},
			&core.TextField{Name: "dedupe_key", Max: 300, Help: "Runs with the same key are queued once."},
			&core.RelationField{Name: "actor", CollectionId: users.Id, MaxSelect: 1},
			&core.JSONField{Name: "input", MaxSize: 4 << 20},
			&core.TextField{Name: "error", Max: 0},
			&core.DateField{Name: "started"},
			&core.DateField{Name: "finished"},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		runs.AddIndex("idx_workflow_runs_due", false, "`status`, `next_at`", "")
		runs.AddIndex("idx_workflow_runs_record", false, "`object`, `record_id`", "")
		runs.AddIndex("idx_workflow_runs_workflow", false, "`workflow`, `created`", "")
		runs.AddIndex("idx_workflow_runs_dedupe", true, "`dedupe_key`", "`dedupe_key` != ''")
		if err := app.Save(runs); err != nil {
			return err
		}

		steps := core.NewBaseCollection("workflow_steps", "pbc_relata_workflow_steps")
		steps.ListRule = types.Pointer(ruleManagers)
		steps.ViewRule = types.Pointer(ruleManagers)
		steps.Fields.Add(
			&core.RelationField{Name: "run", CollectionId: runs.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.TextField{Name: "path", Required: true, Max: 200, Help: "Where the step is in the workflow: 0, 2.then.1, …"},
			&core.TextField{Name: "action", Max: 40},
			&core.SelectField{Name: "status", MaxSelect: 1, Required: true, Values: []string{"running", "waiting", "succeeded", "failed"}},
			&core.NumberField{Name: "attempts", OnlyInt: true},
			&core.JSONField{Name: "output", MaxSize: 1 << 20},
			&core.TextField{Name: "error", Max: 0},
			&core.DateField{Name: "started"},
			&core.DateField{Name: "finished"},
		)
		steps.AddIndex("idx_workflow_steps_run_path", true, "`run`, `path`", "")
		if err := app.Save(steps); err != nil {
			return err
		}

		emails := core.NewBaseCollection("emails", "pbc_relata_emails")
		emails.ListRule = types.Pointer(ruleManagers)
		emails.ViewRule = types.Pointer(ruleManagers)
		emails.Fields.Add(
			&core.JSONField{Name: "to", Required: true, MaxSize: 64 << 10, Help: "Recipient addresses."},
			&core.TextField{Name: "from", Max: 320},
			&core.TextField{Name: "reply_to", Max: 320},
			&core.TextField{Name: "subject", Max: 998, Presentable: true},
			&core.TextField{Name: "html", Max: 0},
			&core.TextField{Name: "text", Max: 0},
			&core.SelectField{Name: "category", MaxSelect: 1, Values: []string{"transactional", "marketing"}},
			&core.SelectField{Name: "status", MaxSelect: 1, Required: true, Values: []string{"queued", "sending", "sent", "failed", "suppressed"}},
			&core.NumberField{Name: "attempts", OnlyInt: true},
			&core.DateField{Name: "next_at"},
			&core.TextField{Name: "last_error", Max: 0},
			&core.TextField{Name: "message_id", Max: 998},
			&core.TextField{Name: "idempotency_key", Max: 300},
			&core.TextField{Name: "template", Max: 100},
			&core.TextField{Name: "object", Max: 63},
			&core.TextField{Name: "record_id", Max: 15},
			&core.RelationField{Name: "run", CollectionId: runs.Id, MaxSelect: 1},
			&core.DateField{Name: "sent_at"},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		emails.AddIndex("idx_emails_due", false, "`status`, `next_at`", "")
		emails.AddIndex("idx_emails_record", false, "`object`, `record_id`", "")
		emails.AddIndex("idx_emails_idempotency", true, "`idempotency_key`", "`idempotency_key` != ''")
		return app.Save(emails)
	}, func(app core.App) error {
		for _, name := range []string{"emails", "workflow_steps", "workflow_runs", "workflows"} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
