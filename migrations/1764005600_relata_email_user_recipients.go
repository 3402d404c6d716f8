package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Emails to CRM users (workflows/outbox Message.UserIDs): `to_users` says which recipients
// of an email are users — a JSON array as long as `to`, each item a user id or "", null when
// none is. The emails API shows a user's address only to whoever may read it (superusers, the
// user, everyone when she made it visible), and the cap on notification emails
// (workflows/notify) counts a user's notices by her id, not by her current address: the index
// idx_emails_notice_user serves that count (a range of one user's last hour of notices) and
// replaces idx_emails_notice, which only the count by address used.
//
// Emails queued before are filled in where a recipient's address is a user's address now
// (any letter case, bare or after a name), except marketing mail (campaigns to contacts,
// the bulk of the outbox); an address a user has given up since stays unknown, and shown.
func init() {
	m.Register(func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return err
		}
		emails.Fields.Add(&core.JSONField{Name: "to_users", MaxSize: 64 << 10,
			Help: "The CRM user each recipient is (a user id, or \"\" for an address of no user); null when none is."})
		emails.RemoveIndex("idx_emails_notice")
		emails.AddIndex("idx_emails_notice_user", false, "`to_users`, `created`", "`notice` = 1")
		if err := app.Save(emails); err != nil {
			return err
		}
		_, err = app.DB().NewQuery(backfillEmailUsers).Execute()
		return err
	}, func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return nil
		}
		emails.RemoveIndex("idx_emails_notice_user")
		emails.Fields.RemoveByName("to_users")
		emails.AddIndex("idx_emails_notice", false, "`created`", "`notice` = 1")
		return app.Save(emails)
	})
}

// backfillEmailUsers fills to_users of the emails queued before it existed: for each
// recipient, the user whose address it is ("ada@x" or "Ada <ada@x>", any case), else "";
// only emails with at least one such recipient get an array.
const backfillEmailUsers = `UPDATE emails SET to_users = (
	SELECT json_group_array(COALESCE((SELECT u.id FROM users u WHERE ` + isUserAddress + ` LIMIT 1), ''))
	FROM json_each(emails."to") j)
WHERE to_users IS NULL AND category != 'marketing'
	AND EXISTS (SELECT 1 FROM json_each(emails."to") j, users u WHERE ` + isUserAddress + `)`

// isUserAddress: the recipient j.value is the address of user u.
const isUserAddress = `u.email != '' AND (lower(j.value) = lower(u.email)
	OR substr(lower(j.value), -(length(u.email) + 2)) = '<' || lower(u.email) || '>')`
