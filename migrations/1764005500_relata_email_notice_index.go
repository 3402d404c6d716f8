package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The cap on notification emails per user and hour (workflows/notify, Config.MaxEmailsPerHour)
// counts a user's notices of the last hour before queuing one: this index makes that a range
// of the last hour's notices, not a read of the whole outbox (campaigns fill it).
func init() {
	m.Register(func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return err
		}
		emails.AddIndex("idx_emails_notice", false, "`created`", "`notice` = 1")
		return app.Save(emails)
	}, func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return nil
		}
		emails.RemoveIndex("idx_emails_notice")
		return app.Save(emails)
	})
}
