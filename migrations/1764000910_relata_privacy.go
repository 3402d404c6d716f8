package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Privacy (package schemas/privacy): the register of access and erasure requests with their
// certificates (no personal data: the subject is kept as a keyed hash), readable by admins;
// and hashed entries in the suppression list, so an erased address is never mailed again.
func init() {
	m.Register(func(app core.App) error {
		const admins = `@request.auth.id != "" && @request.auth.collectionName = "users" && @request.auth.role = "admin"`
		c := core.NewBaseCollection("privacy_requests", "pbc_relata_privacy_requests")
		c.ListRule = types.Pointer(admins)
		c.ViewRule = types.Pointer(admins)
		c.Fields.Add(
			&core.SelectField{Name: "kind", Required: true, MaxSelect: 1, Values: []string{"access", "erasure"}},
			&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: []string{"open", "done", "failed"}},
			&core.TextField{Name: "subject_hash", Max: 64, Help: "Keyed hash of the person's email (or phone, or record id); never the value."},
			&core.TextField{Name: "requested_by", Max: 100, Help: "Who made the request: a user id, or cli."},
			&core.DateField{Name: "requested_at", Required: true},
			&core.DateField{Name: "due_at", Help: "The legal deadline: 30 days after the request (GDPR art. 12)."},
			&core.DateField{Name: "completed_at"},
			&core.JSONField{Name: "certificate", MaxSize: 1 << 20, Help: "What was found, exported or erased, by collection."},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		if err := app.Save(c); err != nil {
			return err
		}
		policies := core.NewBaseCollection("retention_policies", "pbc_relata_retention")
		policies.ListRule = types.Pointer(admins)
		policies.ViewRule = types.Pointer(admins)
		policies.CreateRule = types.Pointer(admins)
		policies.UpdateRule = types.Pointer(admins)
		policies.DeleteRule = types.Pointer(admins)
		policies.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
			&core.TextField{Name: "collection", Required: true, Max: 63, Help: "An object (contacts) or a system collection (form_submissions, emails, workflow_runs)."},
			&core.TextField{Name: "field", Required: true, Max: 63, Help: "The date the age counts from: created, updated, last_touched or any date field."},
			&core.TextField{Name: "after", Required: true, Max: 30, Help: "The age: 90d, 12 months, 2y."},
			&core.SelectField{Name: "action", Required: true, MaxSelect: 1, Values: []string{"anonymise", "delete", "clear"}},
			&core.JSONField{Name: "fields", MaxSize: 4 << 10, Help: `For "clear": the fields to empty, e.g. ["client_ip", "user_agent"].`},
			&core.BoolField{Name: "enabled"},
			&core.DateField{Name: "last_run_at"},
			&core.JSONField{Name: "last_report", MaxSize: 64 << 10},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		if err := app.Save(policies); err != nil {
			return err
		}
		// The defaults: hygiene of technical data on; erasing people is the admin's decision.
		defaults := []map[string]any{
			{"name": "Form submissions: clear IP address and user agent after 90 days", "collection": "form_submissions", "field": "created",
				"after": "90d", "action": "clear", "fields": []string{"client_ip", "user_agent", "origin"}, "enabled": true},
			{"name": "Consents: clear IP address and user agent after 90 days", "collection": "consents", "field": "created",
				"after": "90d", "action": "clear", "fields": []string{"client_ip", "user_agent"}, "enabled": true},
			{"name": "Emails: drop the bodies after 12 months", "collection": "emails", "field": "created",
				"after": "12mo", "action": "clear", "fields": []string{"html", "text"}, "enabled": true},
			{"name": "Workflow runs: delete after 12 months", "collection": "workflow_runs", "field": "created",
				"after": "12mo", "action": "delete", "enabled": true},
			{"name": "Contacts with no activity for 24 months: anonymise", "collection": "contacts", "field": "last_touched",
				"after": "24mo", "action": "anonymise", "enabled": false},
		}
		for _, d := range defaults {
			r := core.NewRecord(policies)
			r.Load(d)
			if err := app.Save(r); err != nil {
				return err
			}
		}
		s, err := app.FindCollectionByNameOrId("email_suppressions")
		if err != nil {
			return err
		}
		if f, ok := s.Fields.GetByName("email").(*core.EmailField); ok {
			f.Required = false
			f.Help = "Stored in lower case; empty for the hashed entry of an erased person."
		}
		s.Fields.Add(&core.TextField{Name: "email_hash", Max: 64, Help: "Keyed hash of an erased person's address (schemas.AddressHash)."})
		s.AddIndex("idx_email_suppressions_hash", false, "`email_hash`", "`email_hash` != ''")
		return app.Save(s)
	}, nil)
}
