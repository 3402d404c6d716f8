package campaigns

import (
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/workflows/outbox"
)

// Event types of campaign_events: what a recipient did with a campaign email.
const (
	EventOpen        = "open"
	EventClick       = "click"
	EventBounce      = "bounce"      // a delivery status notification (detail: "hard 5.1.1" or "soft 4.2.2")
	EventReply       = "reply"       // a reply matched to the email (workflows/inbox)
	EventUnsubscribe = "unsubscribe" // the email's unsubscribe link or List-Unsubscribe-Post
)

// bouncesCollection is workflows/inbox's record of each bounced recipient (named here, not
// imported: the inbox is optional and campaigns do not depend on it).
const bouncesCollection = "email_bounces"

// unsubscribeSource prefixes the source the outbox writes on a suppression made by an
// email's unsubscribe link (outbox.apiUnsubscribe), followed by the email's id.
const unsubscribeSource = "unsubscribe link of email "

// bindEngagement records bounces, replies and unsubscribes of campaign emails as
// campaign_events, in the transaction that records them in the inbox or the outbox, so they
// are on the contact's timeline and in the report attributed to the campaign, like clicks.
// Emails that are not a campaign's are left alone (one indexed lookup by email id).
func (s *Service) bindEngagement() {
	s.app.OnRecordCreate(bouncesCollection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.campaigns.bounce",
		Func: func(e *core.RecordEvent) error {
			if err := e.Next(); err != nil {
				return err
			}
			detail := strings.TrimSpace(e.Record.GetString("class") + " " + e.Record.GetString("status"))
			return s.emailEvent(e.App, e.Record.GetString("original"), EventBounce, detail)
		},
	})
	s.app.OnRecordUpdate(outbox.Collection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.campaigns.reply",
		Func: func(e *core.RecordEvent) error {
			if err := e.Next(); err != nil {
				return err
			}
			if e.Record.GetString("replied_at") == "" || e.Record.Original().GetString("replied_at") != "" {
				return nil // not a new reply (every delivered email passes here: no query)
			}
			return s.emailEvent(e.App, e.Record.Id, EventReply, "")
		},
	})
	s.app.OnRecordCreate(outbox.SuppressionsCollection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.campaigns.unsubscribe",
		Func: func(e *core.RecordEvent) error {
			if err := e.Next(); err != nil {
				return err
			}
			id, ok := strings.CutPrefix(e.Record.GetString("source"), unsubscribeSource)
			if !ok || e.Record.GetString("reason") != outbox.ReasonUnsubscribe {
				return nil
			}
			return s.emailEvent(e.App, id, EventUnsubscribe, "")
		},
	})
}

// emailEvent records an event of kind about outbox email emailID, if it is a campaign's.
func (s *Service) emailEvent(tx core.App, emailID, kind, detail string) error {
	if emailID == "" {
		return nil
	}
	var recips []*core.Record
	if err := tx.RecordQuery(RecipientsCollection).Where(dbx.HashExp{"email_id": emailID}).Limit(1).All(&recips); err != nil || len(recips) == 0 {
		return err
	}
	return s.saveEvent(tx, recips[0], kind, "", detail)
}

// saveEvent writes one campaign event of recipient r through tx.
func (s *Service) saveEvent(tx core.App, r *core.Record, kind, target, detail string) error {
	coll, err := tx.FindCachedCollectionByNameOrId(EventsCollection)
	if err != nil {
		return err
	}
	ev := core.NewRecord(coll)
	ev.Set("campaign", r.GetString("campaign"))
	ev.Set("recipient", r.Id)
	ev.Set("contact", r.GetString("contact"))
	ev.Set("type", kind)
	ev.Set("url", target)
	ev.Set("detail", detail)
	return tx.Save(ev)
}
