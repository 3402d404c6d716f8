package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Sender authentication of inbound mail (workflows/inbox): each stored message says how its
// From was authenticated — a DKIM signature of the From's domain that Relata verified, the
// Authentication-Results of a trusted MX, or why not — in `sender_auth`. Only an
// authenticated From of a user logs a BCC; replies show the verdict on the timeline.
func init() {
	m.Register(func(app core.App) error {
		in, err := app.FindCollectionByNameOrId("inbound_emails")
		if err != nil {
			return err
		}
		in.Fields.Add(&core.TextField{Name: "sender_auth", Max: 1000,
			Help: `How the From was authenticated: "dkim=pass d=example.com", or why it was not.`})
		return app.Save(in)
	}, func(app core.App) error {
		in, err := app.FindCollectionByNameOrId("inbound_emails")
		if err != nil {
			return nil
		}
		in.Fields.RemoveByName("sender_auth")
		return app.Save(in)
	})
}
