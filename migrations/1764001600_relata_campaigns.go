package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Marketing (schemas/segments, workflows/campaigns): segments of contacts — saved filters
// and static lists — campaigns that send a template to a segment, one recipient row per
// (campaign, address) so each address gets one message across crashes, and the tracking
// events (clicks, opens) of campaign recipients. Signed-in users read segment definitions
// (each counts them as they may see contacts); managers and admins write them and own the
// campaigns. Recipients and events are written by the campaign worker only.
const ruleMarketing = `@request.auth.id != "" && @request.auth.collectionName = "users" && (@request.auth.role = "admin" || @request.auth.role = "manager")`

func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		segments := core.NewBaseCollection("segments", "pbc_relata_segments")
		segments.ListRule = types.Pointer(ruleWebappSignedIn)
		segments.ViewRule = types.Pointer(ruleWebappSignedIn)
		segments.CreateRule = types.Pointer(ruleMarketing + ` && @request.body.owner = @request.auth.id`)
		segments.UpdateRule = types.Pointer(ruleMarketing + ` && (@request.body.owner:isset = false || @request.body.owner = @request.auth.id)`)
		segments.DeleteRule = types.Pointer(ruleMarketing)
		segments.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
			&core.TextField{Name: "description", Max: 2000},
			&core.SelectField{Name: "kind", MaxSelect: 1, Required: true, Values: []string{"dynamic", "static"},
				Help: "dynamic: the contacts matching the filter, evaluated when used; static: the contacts added to the list."},
			&core.TextField{Name: "filter", Max: 10000,
				Help: `PocketBase filter over contacts; may reach related records with ?-operators, e.g. company.country = "Italy" && deals_via_contacts.stage ?= "won".`},
			&core.JSONField{Name: "query", MaxSize: 64 << 10, Help: "The builder's conditions the filter was made from."},
			&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1, Required: true,
				Help: "Campaigns to the segment evaluate it as this user."},
			&core.NumberField{Name: "member_count", OnlyInt: true, Help: "Members at the last periodic evaluation (as the owner)."},
			&core.DateField{Name: "counted_at"},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		segments.AddIndex("idx_segments_name", true, "`name`", "")
		if err := app.Save(segments); err != nil {
			return err
		}

		members := core.NewBaseCollection("segment_members", "pbc_relata_segment_members")
		members.ListRule = types.Pointer(ruleMarketing)
		members.ViewRule = types.Pointer(ruleMarketing)
		members.Fields.Add(
			&core.RelationField{Name: "segment", CollectionId: segments.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.TextField{Name: "record_id", Required: true, Max: 15, Help: "The contact."},
			&core.SelectField{Name: "source", MaxSelect: 1, Values: []string{"manual", "import", "evaluated"},
				Help: "manual and import: a static list's members; evaluated: a dynamic segment's members at its last evaluation."},
			&core.DateField{Name: "entered_at", Help: "When the contact entered the segment (first seen by an evaluation, or added)."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		members.AddIndex("idx_segment_members_unique", true, "`segment`, `record_id`", "")
		members.AddIndex("idx_segment_members_record", false, "`record_id`", "")
		if err := app.Save(members); err != nil {
			return err
		}

		campaigns := core.NewBaseCollection("campaigns", "pbc_relata_campaigns")
		campaigns.ListRule = types.Pointer(ruleMarketing)
		campaigns.ViewRule = types.Pointer(ruleMarketing)
		campaigns.CreateRule = types.Pointer(ruleMarketing + ` && @request.body.owner = @request.auth.id && (@request.body.status:isset = false || @request.body.status = "draft")`)
		campaigns.UpdateRule = types.Pointer(ruleMarketing + ` && status = "draft" && @request.body.status:isset = false && @request.body.owner:isset = false && @request.body.stats:isset = false`)
		campaigns.DeleteRule = types.Pointer(ruleMarketing + ` && (status = "draft" || status = "cancelled")`)
		campaigns.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
			&core.TextField{Name: "template", Required: true, Max: 100, Help: "Name of the email template (email_templates)."},
			&core.RelationField{Name: "segment", CollectionId: segments.Id, MaxSelect: 1, Required: true},
			&core.SelectField{Name: "status", MaxSelect: 1, Values: []string{"draft", "scheduled", "sending", "paused", "sent", "cancelled"},
				Help: "Changed through the campaign's send, pause, resume and cancel actions."},
			&core.DateField{Name: "send_at", Help: "When to start sending; empty: at once."},
			&core.NumberField{Name: "throttle", OnlyInt: true, Min: types.Pointer(0.0), Help: "Messages per minute; 0: as fast as the outbox sends."},
			&core.TextField{Name: "consent_purpose", Max: 50, Help: "The consent purpose recipients need. Default: marketing_email."},
			&core.JSONField{Name: "consent_bases", MaxSize: 4 << 10,
				Help: `Legal bases that count, e.g. ["consent"]; empty: anyone without a withdrawn consent of the purpose.`},
			&core.BoolField{Name: "track_clicks", Help: "Rewrite links of the template through signed redirects."},
			&core.BoolField{Name: "track_opens", Help: "Add an open pixel (off by default: see docs/campaigns.md)."},
			&core.NumberField{Name: "report_days", OnlyInt: true, Min: types.Pointer(0.0), Help: "Deals of recipients created or won within this many days count in the report. Default: 30."},
			&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1, Required: true,
				Help: "The segment is evaluated as this user; the template is rendered as them."},
			&core.BoolField{Name: "resolved", Help: "Every recipient row is written."},
			&core.NumberField{Name: "audience", OnlyInt: true, Help: "Segment members at send time."},
			&core.JSONField{Name: "stats", MaxSize: 16 << 10},
			&core.DateField{Name: "started_at"},
			&core.DateField{Name: "finished_at"},
			&core.TextField{Name: "last_error", Max: 4000},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		campaigns.AddIndex("idx_campaigns_status", false, "`status`, `send_at`", "")
		if err := app.Save(campaigns); err != nil {
			return err
		}

		recipients := core.NewBaseCollection("campaign_recipients", "pbc_relata_campaign_recipients")
		recipients.ListRule = types.Pointer(ruleMarketing)
		recipients.ViewRule = types.Pointer(ruleMarketing)
		recipients.Fields.Add(
			&core.RelationField{Name: "campaign", CollectionId: campaigns.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.TextField{Name: "key", Required: true, Max: 400, Help: "The address in lower case, or no-address:<contact id>."},
			&core.TextField{Name: "email", Max: 320, Presentable: true},
			&core.TextField{Name: "contact", Max: 15},
			&core.SelectField{Name: "status", MaxSelect: 1, Required: true, Values: []string{"pending", "queued", "skipped"}},
			&core.SelectField{Name: "reason", MaxSelect: 1,
				Values: []string{"no_address", "do_not_email", "suppressed", "no_consent", "no_access", "cancelled"}},
			&core.TextField{Name: "email_id", Max: 15, Help: "The outbox email."},
			&core.DateField{Name: "queued_at", Help: "When its email was queued (the throttle counts the last minute)."},
			&core.DateField{Name: "opened_at"},
			&core.DateField{Name: "clicked_at"},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		recipients.AddIndex("idx_campaign_recipients_unique", true, "`campaign`, `key`", "")
		recipients.AddIndex("idx_campaign_recipients_status", false, "`campaign`, `status`, `queued_at`", "")
		recipients.AddIndex("idx_campaign_recipients_email", false, "`email_id`", "")
		recipients.AddIndex("idx_campaign_recipients_contact", false, "`contact`", "")
		if err := app.Save(recipients); err != nil {
			return err
		}

		events := core.NewBaseCollection("campaign_events", "pbc_relata_campaign_events")
		events.ListRule = types.Pointer(ruleMarketing)
		events.ViewRule = types.Pointer(ruleMarketing)
		events.Fields.Add(
			&core.RelationField{Name: "campaign", CollectionId: campaigns.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.RelationField{Name: "recipient", CollectionId: recipients.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.TextField{Name: "contact", Max: 15},
			&core.SelectField{Name: "type", MaxSelect: 1, Required: true, Values: []string{"click", "open"}},
			&core.TextField{Name: "url", Max: 4000},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		events.AddIndex("idx_campaign_events_campaign", false, "`campaign`, `type`", "")
		events.AddIndex("idx_campaign_events_contact", false, "`contact`, `created`", "")
		return app.Save(events)
	}, func(app core.App) error {
		for _, name := range []string{"campaign_events", "campaign_recipients", "campaigns", "segment_members", "segments"} {
			if c, err := app.FindCollectionByNameOrId(name); err == nil {
				if err := app.Delete(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
