package migrations

import (
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Claim indexes and engagement events (issue 14). Campaign throughput: the outbox claims queued emails in
// (next_at, created) order and a campaign takes its pending recipients in id order. Without
// these partial indexes each claim sorted the whole backlog (a temporary B-tree per batch,
// O(N²/batch) over a 100,000-recipient campaign); with them a claim reads only the rows it
// takes. Tests: workflows/outbox TestClaimUsesIndex, workflows/campaigns TestQueueUsesIndex.
func init() {
	m.Register(func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("emails")
		if err != nil {
			return err
		}
		emails.AddIndex("idx_emails_claim", false, "`next_at`, `created`", "`status` = 'queued'")
		if err := app.Save(emails); err != nil {
			return err
		}
		recipients, err := app.FindCollectionByNameOrId("campaign_recipients")
		if err != nil {
			return err
		}
		recipients.AddIndex("idx_campaign_recipients_pending", false, "`campaign`, `id`", "`status` = 'pending'")
		if err := app.Save(recipients); err != nil {
			return err
		}
		// Engagement: bounces, replies and unsubscribes of campaign emails are campaign events
		// too (workflows/campaigns/events.go), with a detail (the bounce's class and status).
		events, err := app.FindCollectionByNameOrId("campaign_events")
		if err != nil {
			return err
		}
		if f, ok := events.Fields.GetByName("type").(*core.SelectField); ok {
			for _, v := range []string{"bounce", "reply", "unsubscribe"} {
				if !slices.Contains(f.Values, v) {
					f.Values = append(f.Values, v)
				}
			}
		}
		if events.Fields.GetByName("detail") == nil {
			events.Fields.Add(&core.TextField{Name: "detail", Max: 300})
		}
		return app.Save(events)
	}, func(app core.App) error {
		if events, err := app.FindCollectionByNameOrId("campaign_events"); err == nil {
			if _, err := app.DB().NewQuery("DELETE FROM campaign_events WHERE type IN ('bounce', 'reply', 'unsubscribe')").Execute(); err != nil {
				return err
			}
			if f, ok := events.Fields.GetByName("type").(*core.SelectField); ok {
				f.Values = slices.DeleteFunc(f.Values, func(v string) bool { return v == "bounce" || v == "reply" || v == "unsubscribe" })
			}
			events.Fields.RemoveByName("detail")
			if err := app.Save(events); err != nil {
				return err
			}
		}
		for coll, idx := range map[string]string{"emails": "idx_emails_claim", "campaign_recipients": "idx_campaign_recipients_pending"} {
			c, err := app.FindCollectionByNameOrId(coll)
			if err != nil {
				continue
			}
			c.RemoveIndex(idx)
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}
