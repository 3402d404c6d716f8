package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Email: templates that admins and managers edit (signed-in users read them to preview and
// pick them), the suppression list every marketing send honours, a superuser-only store of
// generated secrets (the unsubscribe links' signing key), and a delivery lease on emails.
const (
	ruleEmailEditors = `@request.auth.id != "" && @request.auth.collectionName = "users" && (@request.auth.role = "admin" || @request.auth.role = "manager")`
	ruleEmailReaders = `@request.auth.id != "" && @request.auth.collectionName = "users"`
)

func init() {
	m.Register(func(app core.App) error {
		templates := core.NewBaseCollection("email_templates", "pbc_relata_email_templates")
		templates.ListRule = types.Pointer(ruleEmailReaders)
		templates.ViewRule = types.Pointer(ruleEmailReaders)
		templates.CreateRule = types.Pointer(ruleEmailEditors)
		templates.UpdateRule = types.Pointer(ruleEmailEditors)
		templates.DeleteRule = types.Pointer(ruleEmailEditors)
		templates.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 100, Pattern: `^[a-z0-9][a-z0-9_-]*$`, Presentable: true,
				Help: "Unique name used by workflows: lowercase letters, digits, - and _."},
			&core.TextField{Name: "description", Max: 1000},
			&core.SelectField{Name: "category", MaxSelect: 1, Values: []string{"transactional", "marketing"},
				Help: "Marketing mail carries an unsubscribe link and is never sent to suppressed addresses. Default: transactional."},
			&core.TextField{Name: "object", Max: 63,
				Help: "Optional: the object the template is written for; its placeholders are checked against the object's fields when saved."},
			&core.TextField{Name: "subject", Required: true, Max: 998,
				Help: `Go text/template, e.g. Welcome, {{.record.full_name}}`},
			&core.TextField{Name: "html", Max: 1 << 20,
				Help: `Go html/template (values are escaped), e.g. <p>Hello {{.recipient.name}}</p> <a href="{{.unsubscribe_url}}">Unsubscribe</a>`},
			&core.TextField{Name: "text", Max: 1 << 20,
				Help: "Go text/template for the plain-text part; derived from the HTML when empty."},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		templates.AddIndex("idx_email_templates_name", true, "`name`", "")
		if err := app.Save(templates); err != nil {
			return err
		}

		suppressions := core.NewBaseCollection("email_suppressions", "pbc_relata_email_suppressions")
		suppressions.ListRule = types.Pointer(ruleEmailEditors)
		suppressions.ViewRule = types.Pointer(ruleEmailEditors)
		suppressions.CreateRule = types.Pointer(ruleEmailEditors)
		suppressions.UpdateRule = types.Pointer(ruleEmailEditors)
		suppressions.DeleteRule = types.Pointer(ruleEmailEditors)
		suppressions.Fields.Add(
			&core.EmailField{Name: "email", Required: true, Presentable: true, Help: "Stored in lower case."},
			&core.SelectField{Name: "reason", MaxSelect: 1, Values: []string{"unsubscribe", "bounce", "complaint", "manual"}},
			&core.TextField{Name: "source", Max: 300, Help: "Where it came from: the email whose link was used, an import, a person."},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		suppressions.AddIndex("idx_email_suppressions_email", true, "`email`", "")
		if err := app.Save(suppressions); err != nil {
			return err
		}

		secrets := core.NewBaseCollection("relata_secrets", "pbc_relata_secrets")
		secrets.System = true
		secrets.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 100, Presentable: true},
			&core.TextField{Name: "value", Required: true, Max: 1000, Hidden: true},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		secrets.AddIndex("idx_relata_secrets_name", true, "`name`", "")
		if err := app.Save(secrets); err != nil {
			return err
		}

		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return err
		}
		emails.Fields.Add(&core.DateField{Name: "lease_until",
			Help: "While sending: when the sender's claim expires; an email still sending after it is retried."})
		for name, max := range map[string]int{"html": 1 << 20, "text": 1 << 20, "last_error": 10000} {
			if f, ok := emails.Fields.GetByName(name).(*core.TextField); ok {
				f.Max = max
			}
		}
		return app.Save(emails)
	}, func(app core.App) error {
		if emails, err := app.FindCollectionByNameOrId("emails"); err == nil {
			emails.Fields.RemoveByName("lease_until")
			if err := app.Save(emails); err != nil {
				return err
			}
		}
		for _, name := range []string{"relata_secrets", "email_suppressions", "email_templates"} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				continue
			}
			c.System = false
			if err := app.Save(c); err != nil {
				return err
			}
			if err := app.Delete(c); err != nil {
				return err
			}
		}
		return nil
	})
}
