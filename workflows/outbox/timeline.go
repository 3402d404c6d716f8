package outbox

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// activityObject returns the object whose records are activities ("activities" when there
// are several), or nil.
func (s *Sender) activityObject() *schemas.Object {
	if s.cfg.Registry == nil {
		return nil
	}
	return s.cfg.Registry.ActivityObject()
}

// logActivity records a sent email as a done activity of type "email" on the timeline of the
// record it is about, through tx (the transaction that marks the email sent). Emails about no
// record, or about an object no activity field points to, leave no activity.
//
// related, when not nil, holds the records emails are about (by object, then id), read once
// for a batch; a record missing from it was deleted.
func (s *Sender) logActivity(tx core.App, email *core.Record, now time.Time, preloaded ...map[string]map[string]*core.Record) error {
	rec, err := s.newActivity(tx, email, now, preloaded...)
	if rec == nil || err != nil {
		return err
	}
	return tx.Save(rec)
}

// newActivity makes, without saving it, the activity logActivity saves, or returns nil when
// the email leaves none. app reads the record the email is about when preloaded does not
// hold the records.
func (s *Sender) newActivity(app core.App, email *core.Record, now time.Time, preloaded ...map[string]map[string]*core.Record) (*core.Record, error) {
	object, id := email.GetString("object"), email.GetString("record_id")
	act := s.activityObject()
	if act == nil || object == "" || id == "" || email.GetBool("notice") {
		return nil, nil // a notice to a user is not correspondence with the record's person
	}
	var link *schemas.Field
	for _, f := range act.Fields {
		if f.Type == schemas.TypeRelation && f.Target == object {
			link = f
			break
		}
	}
	if link == nil {
		return nil, nil
	}
	var related *core.Record
	if len(preloaded) > 0 && preloaded[0] != nil {
		if related = preloaded[0][object][id]; related == nil {
			return nil, nil // deleted since
		}
	} else {
		var err error
		if related, err = app.FindRecordById(object, id); err != nil {
			return nil, nil // the record was deleted since: nothing to attach the activity to
		}
	}
	coll, err := app.FindCachedCollectionByNameOrId(act.Name)
	if err != nil {
		return nil, err
	}
	rec := core.NewRecord(coll)
	rec.Id = schemas.OrderedID()
	set := func(name string, v any) {
		if coll.Fields.GetByName(name) != nil {
			rec.Set(name, v)
		}
	}
	set(link.Name, id)
	if f := act.Field("type"); f != nil && f.HasOption("email") {
		rec.Set("type", "email")
	}
	// Whoever may view the record reads the activity: the address of a recipient who is a user
	// and keeps it hidden is the stand-in there, as the emails API shows it to a colleague
	// (a template may print the recipient's address into the subject or the text).
	shown := email
	if len(storedUserIDs(email)) > 0 {
		shown = email.Fresh()
		hideAddresses(app, schemas.User(nil), shown, "subject", "text")
	}
	subject := shown.GetString("subject")
	if subject == "" {
		subject = "(no subject)"
	}
	if act.TitleField != "" {
		set(act.TitleField, fit(coll, act.TitleField, subject))
	}
	set("body", fit(coll, "body", shown.GetString("text")))
	set("done", true)
	set("done_at", now)
	// Also link the records the related record itself links to (a contact's company, a
	// deal's company), and give the activity the related record's owner.
	for _, f := range act.Fields {
		if f == link || f.Multiple || rec.GetString(f.Name) != "" {
			continue
		}
		var src *core.RelationField
		for _, rf := range related.Collection().Fields {
			r, ok := rf.(*core.RelationField)
			if !ok || r.IsMultiple() {
				continue
			}
			if target, err := app.FindCachedCollectionByNameOrId(r.CollectionId); err == nil && target.Name == targetOf(f) {
				if f.Type == schemas.TypeOwner && r.Name != ownerName(s, object) {
					continue
				}
				src = r
				break
			}
		}
		if src != nil {
			if v := related.GetString(src.Name); v != "" {
				rec.Set(f.Name, v)
			}
		}
	}
	return rec, nil
}

// targetOf is the collection a relation or owner field points to.
func targetOf(f *schemas.Field) string {
	switch f.Type {
	case schemas.TypeRelation:
		return f.Target
	case schemas.TypeOwner:
		return schemas.UsersCollection
	}
	return ""
}

// ownerName is the owner field of an object, "" when it has none.
func ownerName(s *Sender, object string) string {
	if o, ok := s.cfg.Registry.Object(object); ok {
		if f := o.OwnerField(); f != nil {
			return f.Name
		}
	}
	return ""
}

// fit cuts v to the maximum length of a text field.
func fit(coll *core.Collection, field, v string) string {
	tf, ok := coll.Fields.GetByName(field).(*core.TextField)
	if !ok {
		return v
	}
	limit := tf.Max
	if limit <= 0 {
		limit = 5000
	}
	if r := []rune(v); len(r) > limit {
		return string(r[:limit-1]) + "…"
	}
	return v
}
