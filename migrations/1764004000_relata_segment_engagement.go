package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Segments on engagement (issue 14): a dynamic segment may select contacts by what they did
// with campaign emails — opened, clicked, replied to, bounced from a campaign (any or one),
// optionally within N days (schemas/segments/engagement.go). The conditions are stored in
// segments.engagement; each is a correlated EXISTS on campaign_events of the contact, read
// through idx_campaign_events_engagement (contact, type, created): a seek per contact in the
// caller's scope (TestEngagementUsesIndex checks the plan).
func init() {
	m.Register(func(app core.App) error {
		segs, err := app.FindCollectionByNameOrId("segments")
		if err != nil {
			return err
		}
		if segs.Fields.GetByName("engagement") == nil {
			segs.Fields.Add(&core.JSONField{Name: "engagement", MaxSize: 16 << 10,
				Help: `Engagement conditions: [{"event": "open|click|reply|bounce", "campaign": "id or empty", "days": N, "not": false}].`})
		}
		if err := app.Save(segs); err != nil {
			return err
		}
		events, err := app.FindCollectionByNameOrId("campaign_events")
		if err != nil {
			return err
		}
		events.AddIndex("idx_campaign_events_engagement", false, "`contact`, `type`, `created`", "")
		return app.Save(events)
	}, func(app core.App) error {
		if events, err := app.FindCollectionByNameOrId("campaign_events"); err == nil {
			events.RemoveIndex("idx_campaign_events_engagement")
			if err := app.Save(events); err != nil {
				return err
			}
		}
		if segs, err := app.FindCollectionByNameOrId("segments"); err == nil {
			segs.Fields.RemoveByName("engagement")
			return app.Save(segs)
		}
		return nil
	})
}
