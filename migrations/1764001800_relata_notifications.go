package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Notifications (package workflows/notify writes them; the web app's bell reads them): one row
// per thing a user should know about — an assignment, a mention, a task coming due, a reply to
// an email, a workflow's notify action. Each user lists, views and marks read only her own
// (realtime follows the same rules); nobody creates them through the API, so nobody can address
// one to someone else. "key" makes each notification happen once.
//
// Users get their preferences: a time zone (IANA name), a language (en, it) and what to be
// notified of (JSON, see workflows/notify.Prefs). A user edits her own (the users update rule).
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		users.Fields.Add(
			&core.TextField{Name: "timezone", Max: 64, Help: "IANA time zone, e.g. Europe/Rome; empty: UTC."},
			&core.SelectField{Name: "language", MaxSelect: 1, Values: []string{"en", "it"}},
			&core.JSONField{Name: "notify_prefs", MaxSize: 4 << 10, Help: "What to be notified of, in the app and by email; digest; reminder lead time."},
		)
		if err := app.Save(users); err != nil {
			return err
		}
		own := `@request.auth.id != "" && user = @request.auth.id`
		c := core.NewBaseCollection("notifications", "pbc_relata_notifications")
		c.ListRule = types.Pointer(own)
		c.ViewRule = types.Pointer(own)
		// Only read_at may change: the rest is what happened.
		c.UpdateRule = types.Pointer(own + ` && @request.body.user:isset = false && @request.body.kind:isset = false` +
			` && @request.body.title:isset = false && @request.body.body:isset = false && @request.body.object:isset = false` +
			` && @request.body.record_id:isset = false && @request.body.key:isset = false && @request.body.actor:isset = false`)
		c.DeleteRule = types.Pointer(own)
		c.Fields.Add(
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.SelectField{Name: "kind", MaxSelect: 1, Required: true, Values: []string{"assigned", "mention", "due", "reply", "workflow"}},
			&core.TextField{Name: "title", Required: true, Max: 300, Presentable: true},
			&core.TextField{Name: "body", Max: 2000},
			&core.TextField{Name: "object", Max: 63, Help: "The collection of the record it is about."},
			&core.TextField{Name: "record_id", Max: 50, Help: "The record it is about."},
			&core.TextField{Name: "actor", Max: 50, Help: "The user who caused it; empty for the system."},
			&core.DateField{Name: "read_at"},
			&core.TextField{Name: "key", Required: true, Max: 300, Help: "Makes each notification happen once."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		c.AddIndex("idx_notifications_key", true, "`key`", "")
		c.AddIndex("idx_notifications_user", false, "`user`, `created`", "")
		return app.Save(c)
	}, func(app core.App) error {
		if c, err := app.FindCollectionByNameOrId("notifications"); err == nil {
			if err := app.Delete(c); err != nil {
				return err
			}
		}
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return nil
		}
		for _, f := range []string{"timezone", "language", "notify_prefs"} {
			users.Fields.RemoveByName(f)
		}
		return app.Save(users)
	})
}
