package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Replays of incoming webhooks and floods of inbound replies.
//
// relata_webhook_deliveries (schemas/webhooks): the signature covers the timestamp and the
// body, not X-Relata-Delivery, so a captured request sent again within the 5-minute window
// with a new delivery id was applied again. Every applied delivery now leaves a row with the
// SHA-256 of its signature (unique per webhook) and the time it was signed; a delivery id is
// optional in that row. Rows without a delivery id serve only the replay check and are deleted
// once their timestamp is out of the window. Both unique indexes are partial (an empty value
// is no key), so their lookups repeat the condition; idx_relata_webhook_deliveries_signed lets
// the pruning read only the prunable rows.
//
// inbound_emails (workflows/inbox): replies to one sent email are counted per day and share
// one open task, so each reply names the task it raised or was counted on (`task`), and the
// count reads the replies of an email by (email, created).
func init() {
	m.Register(func(app core.App) error {
		d, err := app.FindCollectionByNameOrId("relata_webhook_deliveries")
		if err != nil {
			return err
		}
		if f, ok := d.Fields.GetByName("delivery").(*core.TextField); ok {
			f.Required = false
		}
		d.Fields.Add(
			&core.TextField{Name: "signature", Max: 64, Help: "Hex SHA-256 of the verified X-Relata-Signature."},
			&core.DateField{Name: "signed_at", Help: "The delivery's X-Relata-Timestamp."},
		)
		d.AddIndex("idx_relata_webhook_deliveries", true, "`webhook`, `delivery`", "`delivery` != ''")
		d.AddIndex("idx_relata_webhook_deliveries_signature", true, "`webhook`, `signature`", "`signature` != ''")
		d.AddIndex("idx_relata_webhook_deliveries_signed", false, "`signed_at`", "`delivery` = ''")
		if err := app.Save(d); err != nil {
			return err
		}

		in, err := app.FindCollectionByNameOrId("inbound_emails")
		if err != nil {
			return err
		}
		in.Fields.Add(&core.TextField{Name: "task", Max: 50, Help: "The activity (task) a reply raised or was counted on."})
		in.AddIndex("idx_inbound_emails_email", false, "`email`, `created`", "")
		return app.Save(in)
	}, func(app core.App) error {
		if in, err := app.FindCollectionByNameOrId("inbound_emails"); err == nil {
			in.RemoveIndex("idx_inbound_emails_email")
			in.Fields.RemoveByName("task")
			if err := app.Save(in); err != nil {
				return err
			}
		}
		d, err := app.FindCollectionByNameOrId("relata_webhook_deliveries")
		if err != nil {
			return nil
		}
		// Rows without a delivery id cannot live under the earlier unique index.
		if _, err := app.DB().NewQuery("DELETE FROM relata_webhook_deliveries WHERE delivery = ''").Execute(); err != nil {
			return err
		}
		d.RemoveIndex("idx_relata_webhook_deliveries_signed")
		d.RemoveIndex("idx_relata_webhook_deliveries_signature")
		d.Fields.RemoveByName("signature")
		d.Fields.RemoveByName("signed_at")
		if f, ok := d.Fields.GetByName("delivery").(*core.TextField); ok {
			f.Required = true
		}
		d.AddIndex("idx_relata_webhook_deliveries", true, "`webhook`, `delivery`", "")
		return app.Save(d)
	})
}
