package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Notices (workflows/notify): an email that tells a CRM user about a record — a mention, an
// assignment, a workflow's notify, a digest — is marked `notice`. It keeps the record it is
// about (privacy erasure finds it by record_id) but is no correspondence with the record's
// person: it leaves no activity on the record's timeline, where everyone who may view the
// record (the rep and her team) would read what was written to the manager.
func init() {
	m.Register(func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return err
		}
		emails.Fields.Add(&core.BoolField{Name: "notice",
			Help: "A notice to a CRM user about the record (notifications): not logged on the record's timeline."})
		return app.Save(emails)
	}, func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return nil
		}
		emails.Fields.RemoveByName("notice")
		return app.Save(emails)
	})
}
