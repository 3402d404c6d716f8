package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Forms: the evidence of every accepted form submission, the consents given on forms, and
// counters of blocked (spam) submissions. Admins and managers read them; only the server
// writes them (no create, update or delete rule: superusers only through the API).
//
// consents.contact, a relation to the contacts object, is added by the forms package when the
// server starts and the contacts collection exists: object collections are created from the
// definitions after the migrations ran, so a migration cannot point at them.
const ruleFormReaders = `@request.auth.id != "" && @request.auth.collectionName = "users" && (@request.auth.role = "admin" || @request.auth.role = "manager")`

func init() {
	m.Register(func(app core.App) error {
		consents := core.NewBaseCollection("consents", "pbc_relata_consents")
		consents.ListRule = types.Pointer(ruleFormReaders)
		consents.ViewRule = types.Pointer(ruleFormReaders)
		consents.Fields.Add(
			&core.TextField{Name: "form", Required: true, Max: 100, Presentable: true, Help: "Slug of the form the consent was given on."},
			&core.TextField{Name: "object", Max: 63, Help: "Object of the record the consent is about."},
			&core.TextField{Name: "record_id", Max: 15, Help: "Id of the record the consent is about."},
			&core.TextField{Name: "text", Required: true, Max: 10000, Help: "The consent text exactly as shown."},
			&core.TextField{Name: "version", Required: true, Max: 100},
			&core.DateField{Name: "given_at", Required: true, Help: "When the person ticked the box and submitted the form."},
			&core.TextField{Name: "client_ip", Max: 64},
			&core.TextField{Name: "user_agent", Max: 1000},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		consents.AddIndex("idx_consents_record", false, "`object`, `record_id`", "")
		consents.AddIndex("idx_consents_form", false, "`form`, `created`", "")
		if err := app.Save(consents); err != nil {
			return err
		}

		submissions := core.NewBaseCollection("form_submissions", "pbc_relata_form_submissions")
		submissions.ListRule = types.Pointer(ruleFormReaders)
		submissions.ViewRule = types.Pointer(ruleFormReaders)
		submissions.Fields.Add(
			&core.TextField{Name: "form", Required: true, Max: 100, Presentable: true, Help: "Slug of the form."},
			&core.TextField{Name: "object", Required: true, Max: 63},
			&core.TextField{Name: "record_id", Required: true, Max: 15, Help: "The record the submission created or updated."},
			&core.SelectField{Name: "action", Required: true, MaxSelect: 1, Values: []string{"created", "updated"},
				Help: "created: a new record; updated: an existing record matched by the form's dedupe field."},
			&core.RelationField{Name: "consent", CollectionId: consents.Id, MaxSelect: 1},
			&core.TextField{Name: "client_ip", Max: 64},
			&core.TextField{Name: "user_agent", Max: 1000},
			&core.TextField{Name: "origin", Max: 1000, Help: "The page the form was posted from (Origin or Referer), when the browser said."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		submissions.AddIndex("idx_form_submissions_form", false, "`form`, `created`", "")
		submissions.AddIndex("idx_form_submissions_record", false, "`object`, `record_id`", "")
		if err := app.Save(submissions); err != nil {
			return err
		}

		blocks := core.NewBaseCollection("relata_form_blocks", "pbc_relata_form_blocks")
		blocks.ListRule = types.Pointer(ruleFormReaders)
		blocks.ViewRule = types.Pointer(ruleFormReaders)
		blocks.Fields.Add(
			&core.TextField{Name: "form", Required: true, Max: 100, Presentable: true},
			&core.SelectField{Name: "reason", Required: true, MaxSelect: 1,
				Values: []string{"honeypot", "too_fast", "bad_token", "rate_limited", "too_large"}},
			&core.TextField{Name: "day", Required: true, Max: 10, Help: "UTC day, YYYY-MM-DD."},
			&core.NumberField{Name: "count", OnlyInt: true},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		blocks.AddIndex("idx_relata_form_blocks_key", true, "`form`, `reason`, `day`", "")
		return app.Save(blocks)
	}, func(app core.App) error {
		for _, name := range []string{"relata_form_blocks", "form_submissions", "consents"} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
