package hooks

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/notify"
	"github.com/relata/relata/workflows/outbox"
)

// notifications turns record changes into notifications (package workflows/notify), in the
// transaction that saves the change: a record assigned to a user by someone else, a user
// @mentioned in an activity's text, a reply to an email about a record a user owns.
type notifications struct {
	h *handlers
}

func (n *notifications) bind(app core.App) {
	app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.notify-create", Func: func(e *core.RecordEvent) error { return n.record(e, true) }})
	app.OnRecordUpdateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.notify-update", Func: func(e *core.RecordEvent) error { return n.record(e, false) }})
	app.OnRecordCreateExecute(inbox.Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.notify-reply", Func: n.reply})
	app.OnRecordCreateExecute(inbox.Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.notify-unverified", Func: n.unverified})
	checkZone := func(e *core.RecordEvent) error {
		if err := notify.CheckZone(e.Record.GetString("timezone")); err != nil {
			return fieldError("timezone", err)
		}
		// Preferences are checked when they change: stored ones of old, unreadable, must not
		// stop an admin's change of the user's role.
		if prefs := e.Record.GetString("notify_prefs"); e.Record.IsNew() || prefs != e.Record.Original().GetString("notify_prefs") {
			if err := notify.CheckPrefs(prefs); err != nil {
				return fieldError("notify_prefs", err)
			}
		}
		return e.Next()
	}
	app.OnRecordCreate(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.user-zone-create", Func: checkZone})
	app.OnRecordUpdate(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.user-zone-update", Func: checkZone})
}

// fieldError is a 400 naming field and why, as the REST API answers a field's validation
// error (a plain error from a hook became "Failed to update record.").
func fieldError(field string, err error) error {
	msg := field + ": " + err.Error()
	return apis.NewBadRequestError(msg, map[string]any{field: map[string]string{"code": "invalid", "message": msg}})
}

// record notifies the new owner of an assigned record, and the users newly mentioned in an
// activity's text. Creating a record for someone else is assigning it; the system (seeds,
// imports) creating records with owners is not, but a workflow changing an owner is. Saves
// without triggers (imports without --workflows) notify nobody.
func (n *notifications) record(e *core.RecordEvent, created bool) error {
	o := n.h.object(e.Record)
	if o == nil || schemas.TriggersSuppressed(e.Context) {
		return e.Next()
	}
	actor := n.h.actor(e.Record)
	assignee := ""
	if of := o.OwnerField(); of != nil {
		owner, before := e.Record.GetString(of.Name), ""
		if !created {
			before = e.Record.Original().GetString(of.Name)
		}
		switch {
		case owner == "" || owner == before:
		case actor != nil && actor.Id == owner:
		case actor == nil && created:
		default:
			assignee = owner
		}
	}
	var text, textBefore string
	if o.Activity && mayMention(o, e.Record) {
		text = activityText(o, e.Record)
		if !created {
			textBefore = activityText(o, e.Record.Original())
		}
	}
	mentions := strings.Contains(text, "@") && text != textBefore
	if assignee == "" && !mentions {
		return e.Next()
	}
	orig := e.App
	defer func() { e.App = orig }()
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		if assignee != "" {
			if err := n.assigned(tx, o, e.Record, assignee, actor); err != nil {
				return err
			}
		}
		if mentions {
			return n.mentioned(tx, o, e.Record, text, textBefore, actor)
		}
		return nil
	})
}

func (n *notifications) assigned(tx core.App, o *schemas.Object, rec *core.Record, to string, actor *core.Record) error {
	user, err := tx.FindRecordById(schemas.UsersCollection, to)
	if err != nil {
		return nil
	}
	stamp := rec.GetString("updated")
	if stamp == "" {
		stamp = security.RandomString(10)
	}
	_, err = notify.Send(tx, notify.Notification{
		User:     to,
		Kind:     notify.KindAssigned,
		Title:    fmt.Sprintf(notify.Message(user, "assigned"), actorName(actor), notify.Noun(user, singular(o))+" "+titleOf(o, rec)),
		Object:   o.Name,
		RecordID: rec.Id,
		Actor:    actorID(actor),
		Key:      "assigned:" + o.Name + ":" + rec.Id + ":" + to + ":" + stamp,
	})
	return err
}

// mentioned notifies each user mentioned in text and not already in before, other than the
// actor, once per record — and only users who may view the record: a mention of someone
// who cannot see it notifies nobody (the notification would show what they may not read).
func (n *notifications) mentioned(tx core.App, o *schemas.Object, rec *core.Record, text, before string, actor *core.Record) error {
	users, err := tx.FindAllRecords(schemas.UsersCollection)
	if err != nil {
		return err
	}
	people := make([]notify.Person, len(users))
	byID := map[string]*core.Record{}
	for i, u := range users {
		people[i] = notify.Person{ID: u.Id, Name: u.GetString("name"), Email: u.Email()}
		byID[u.Id] = u
	}
	old := map[string]bool{}
	for _, id := range notify.Mentions(before, people) {
		old[id] = true
	}
	for _, id := range notify.Mentions(text, people) {
		if old[id] || actor != nil && actor.Id == id {
			continue
		}
		u := byID[id]
		ok, err := schemas.User(u).CanView(tx, rec)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if _, err := notify.Send(tx, notify.Notification{
			User:     id,
			Kind:     notify.KindMention,
			Title:    fmt.Sprintf(notify.Message(u, "mention"), actorName(actor), titleOf(o, rec)),
			Body:     text,
			Object:   o.Name,
			RecordID: rec.Id,
			Actor:    actorID(actor),
			Key:      "mention:" + o.Name + ":" + rec.Id + ":" + id,
		}); err != nil {
			return err
		}
	}
	return nil
}

// reply notifies the owner of the record an email was about when a reply to it arrives.
func (n *notifications) reply(e *core.RecordEvent) error {
	if err := e.Next(); err != nil {
		return err
	}
	if e.Record.GetString("kind") != inbox.KindReply || e.Record.GetString("email") == "" {
		return nil
	}
	out, err := e.App.FindRecordById(outbox.Collection, e.Record.GetString("email"))
	if err != nil {
		return nil
	}
	o, ok := n.h.reg.Object(out.GetString("object"))
	if !ok || o.OwnerField() == nil {
		return nil
	}
	rec, err := e.App.FindRecordById(o.Name, out.GetString("record_id"))
	if err != nil {
		return nil
	}
	owner, err := e.App.FindRecordById(schemas.UsersCollection, rec.GetString(o.OwnerField().Name))
	if err != nil {
		return nil
	}
	// The title names the sender's address and the subject the CRM sent, not the reply's
	// display name and subject: free text whoever replies fills ("Your CEO (urgent)"), which a
	// notification would present as the CRM's own words (the inbox's task title does the same).
	from := e.Record.GetString("from")
	if a, err := mail.ParseAddress(from); err == nil {
		from = strings.ToLower(a.Address)
	}
	subject := out.GetString("subject")
	if strings.TrimSpace(subject) == "" {
		subject = e.Record.GetString("subject")
	}
	_, err = notify.Send(e.App, notify.Notification{
		User:     owner.Id,
		Kind:     notify.KindReply,
		Title:    fmt.Sprintf(notify.Message(owner, "reply"), from, subject),
		Body:     e.Record.GetString("text"),
		Object:   o.Name,
		RecordID: rec.Id,
		Key:      "reply:" + e.Record.Id,
	})
	return err
}

// unverified tells a user, at most once a day, that mail to the dropbox in her name was not
// logged because its From could not be authenticated (workflows/inbox, auth.go): her own
// BCCs from a server that does not sign (so she knows why her timeline stays empty), or
// someone forging her address. The title is the CRM's own words; the subject and the reason
// are in the body.
func (n *notifications) unverified(e *core.RecordEvent) error {
	if err := e.Next(); err != nil {
		return err
	}
	if e.Record.GetString("kind") != inbox.KindQuarantined || e.Record.GetString("user") == "" {
		return nil
	}
	user, err := e.App.FindRecordById(schemas.UsersCollection, e.Record.GetString("user"))
	if err != nil {
		return nil
	}
	day := time.Now().In(notify.Location(user)).Format(time.DateOnly)
	_, err = notify.Send(e.App, notify.Notification{
		User:  user.Id,
		Kind:  notify.KindWorkflow,
		Title: notify.Message(user, "inbox-unverified"),
		Body: fmt.Sprintf(notify.Message(user, "inbox-unverified-body"), e.Record.GetString("subject"),
			e.Record.GetString("sender_auth")),
		Key: "inbox-unverified:" + user.Id + ":" + day,
	})
	return err
}

// mayMention reports whether a text field of rec holds an "@" at all (the cheap test before
// rich text is read as text).
func mayMention(o *schemas.Object, rec *core.Record) bool {
	for _, f := range o.Fields {
		if (f.Type == schemas.TypeRichText || f.Type == schemas.TypeLongText) && strings.Contains(rec.GetString(f.Name), "@") {
			return true
		}
	}
	return false
}

// activityText is the text of an activity people write mentions in: its long and rich
// text fields, rich text as plain text.
func activityText(o *schemas.Object, rec *core.Record) string {
	var parts []string
	for _, f := range o.Fields {
		v := rec.GetString(f.Name)
		switch {
		case v == "":
		case f.Type == schemas.TypeRichText:
			parts = append(parts, outbox.HTMLToText(v))
		case f.Type == schemas.TypeLongText:
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, "\n")
}

func actorName(actor *core.Record) string {
	switch {
	case actor == nil:
		return "A workflow"
	case strings.TrimSpace(actor.GetString("name")) != "":
		return strings.TrimSpace(actor.GetString("name"))
	case actor.Email() != "":
		return actor.Email()
	}
	return "An administrator"
}

func actorID(actor *core.Record) string {
	if actor == nil || actor.Collection().Name != schemas.UsersCollection {
		return ""
	}
	return actor.Id
}

func singular(o *schemas.Object) string {
	if o.Label.Singular != "" {
		return strings.ToLower(o.Label.Singular)
	}
	return o.Name
}

func titleOf(o *schemas.Object, rec *core.Record) string {
	if t := rec.GetString(o.TitleField); t != "" {
		return "“" + t + "”"
	}
	return rec.Id
}
