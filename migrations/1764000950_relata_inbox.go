package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Inbound mail (workflows/inbox): every message the SMTP listener accepted, the bounces it
// read from delivery status notifications, and on outbound emails when they were replied to
// and bounced. Managers and admins read them; only the listener writes.
func init() {
	m.Register(func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return err
		}
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}

		inbound := core.NewBaseCollection("inbound_emails", "pbc_relata_inbound_emails")
		inbound.ListRule = types.Pointer(ruleManagers)
		inbound.ViewRule = types.Pointer(ruleManagers)
		inbound.Fields.Add(
			&core.SelectField{Name: "kind", MaxSelect: 1, Required: true,
				Values: []string{"logged", "reply", "bounce", "quarantined", "unmatched"},
				Help:   "logged: a user's BCC or forward to the dropbox; reply: to an outbound email; bounce: a delivery status notification; quarantined: to the dropbox from someone who is not a user; unmatched: none of these."},
			&core.TextField{Name: "envelope_from", Max: 320},
			&core.JSONField{Name: "envelope_to", MaxSize: 64 << 10},
			&core.TextField{Name: "from", Max: 320},
			&core.JSONField{Name: "to", MaxSize: 64 << 10},
			&core.JSONField{Name: "cc", MaxSize: 64 << 10},
			&core.TextField{Name: "subject", Max: 998, Presentable: true},
			&core.TextField{Name: "text", Max: 1 << 20},
			&core.TextField{Name: "html", Max: 1 << 20, Help: "Sanitised."},
			&core.BoolField{Name: "truncated", Help: "The text or HTML was longer than the cap and was cut."},
			&core.TextField{Name: "message_id", Max: 998},
			&core.TextField{Name: "in_reply_to", Max: 998},
			&core.NumberField{Name: "size", OnlyInt: true},
			&core.RelationField{Name: "email", CollectionId: emails.Id, MaxSelect: 1, Help: "The outbound email it replies to or bounces."},
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Help: "The user who sent it to the dropbox."},
			&core.TextField{Name: "result", Max: 2000, Help: "What was done with it."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		inbound.AddIndex("idx_inbound_emails_message_id", false, "`message_id`", "")
		inbound.AddIndex("idx_inbound_emails_created", false, "`created`", "")
		if err := app.Save(inbound); err != nil {
			return err
		}

		bounces := core.NewBaseCollection("email_bounces", "pbc_relata_email_bounces")
		bounces.ListRule = types.Pointer(ruleManagers)
		bounces.ViewRule = types.Pointer(ruleManagers)
		bounces.Fields.Add(
			&core.EmailField{Name: "email", Required: true, Presentable: true, Help: "The bounced recipient, in lower case."},
			&core.SelectField{Name: "class", MaxSelect: 1, Required: true, Values: []string{"hard", "soft"}},
			&core.TextField{Name: "status", Max: 20, Help: "The RFC 3463 status code, e.g. 5.1.1."},
			&core.TextField{Name: "action", Max: 20},
			&core.TextField{Name: "diagnostic", Max: 1000},
			&core.TextField{Name: "original", Max: 998, Help: "The bounced message: an outbound email id or a Message-ID."},
			&core.RelationField{Name: "inbound", CollectionId: inbound.Id, MaxSelect: 1, CascadeDelete: true},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		bounces.AddIndex("idx_email_bounces_email", false, "`email`, `class`", "")
		if err := app.Save(bounces); err != nil {
			return err
		}

		emails.Fields.Add(
			&core.DateField{Name: "replied_at", Help: "When the first reply to it arrived (inbound mail)."},
			&core.DateField{Name: "bounced_at", Help: "When a delivery status notification reported it failed."},
		)
		return app.Save(emails)
	}, func(app core.App) error {
		if emails, err := app.FindCollectionByNameOrId("emails"); err == nil {
			emails.Fields.RemoveByName("replied_at")
			emails.Fields.RemoveByName("bounced_at")
			if err := app.Save(emails); err != nil {
				return err
			}
		}
		for _, name := range []string{"email_bounces", "inbound_emails"} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
