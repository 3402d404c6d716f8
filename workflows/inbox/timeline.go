package inbox

import (
	"fmt"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// maxPeople bounds the addresses of one message that are looked up as contacts.
const maxPeople = 200

// activityObject is the object whose records are activities ("activities" when several are).
func (in *Inbox) activityObject() *schemas.Object { return in.cfg.Registry.ActivityObject() }

// canView reports whether user may view rec under its collection's view rule, the same check
// as the REST API's.
func canView(tx core.App, user, rec *core.Record) bool {
	ok, err := schemas.User(user).CanView(tx, rec)
	return err == nil && ok
}

// activity is one activity to save.
type activity struct {
	kind    string // "email" or "task"
	subject string
	body    string
	done    bool
	owner   string
	links   map[string]string // activity field → record id
}

// save writes a as a record of the activity object act.
func (in *Inbox) save(tx core.App, act *schemas.Object, a activity) (*core.Record, error) {
	coll, err := tx.FindCachedCollectionByNameOrId(act.Name)
	if err != nil {
		return nil, err
	}
	rec := core.NewRecord(coll)
	set := func(name string, v any) {
		if coll.Fields.GetByName(name) != nil {
			rec.Set(name, v)
		}
	}
	if f := act.Field("type"); f != nil && f.HasOption(a.kind) {
		rec.Set("type", a.kind)
	}
	subject := strings.TrimSpace(a.subject)
	if subject == "" {
		subject = "(no subject)"
	}
	if act.TitleField != "" {
		set(act.TitleField, fitField(coll, act.TitleField, subject))
	}
	set("body", fitField(coll, "body", a.body))
	now := in.cfg.Now().UTC()
	if a.done {
		set("done", true)
		set("done_at", now)
	} else {
		set("due", now)
	}
	if f := act.OwnerField(); f != nil && a.owner != "" {
		rec.Set(f.Name, a.owner)
	}
	for k, v := range a.links {
		set(k, v)
	}
	return rec, tx.Save(rec)
}

// fitField cuts v to the maximum length of a text field.
func fitField(coll *core.Collection, field, v string) string {
	tf, ok := coll.Fields.GetByName(field).(*core.TextField)
	if !ok {
		return v
	}
	limit := tf.Max
	if limit <= 0 {
		limit = 5000
	}
	return clip(v, limit)
}

// linksOf links the activity to rec through the activity field pointing to rec's object,
// and to the records rec itself points to through single relations (a contact's company, a
// deal's company) that the activity has a field for. User, when set, must be able to view
// each linked record.
func linksOf(tx core.App, act *schemas.Object, rec *core.Record, user *core.Record) map[string]string {
	links := map[string]string{}
	object := rec.Collection().Name
	for _, f := range act.Fields {
		if f.Type == schemas.TypeRelation && !f.Multiple && f.Target == object {
			links[f.Name] = rec.Id
			break
		}
	}
	for _, f := range act.Fields {
		if f.Type != schemas.TypeRelation || f.Multiple || f.Target == object {
			continue
		}
		for _, rf := range rec.Collection().Fields {
			r, ok := rf.(*core.RelationField)
			if !ok || r.IsMultiple() {
				continue
			}
			target, err := tx.FindCachedCollectionByNameOrId(r.CollectionId)
			if err != nil || target.Name != f.Target {
				continue
			}
			id := rec.GetString(r.Name)
			if id == "" {
				continue
			}
			if user != nil {
				parent, err := tx.FindRecordById(target, id)
				if err != nil || !canView(tx, user, parent) {
					continue
				}
			}
			links[f.Name] = id
			break
		}
	}
	return links
}

// people are the addresses a logged message was exchanged with: for a forward the original
// sender and recipients, else To and Cc; never the inbox's own domain or the user.
// more reports addresses left out beyond maxPeople.
func (in *Inbox) people(msg *Message, user *core.Record) (out []string, more bool) {
	var l []*gomail.Address
	if f := msg.Forwarded; f != nil {
		if f.From != nil {
			l = append(l, f.From)
		}
		l = append(append(l, f.To...), f.Cc...)
	} else {
		l = append(append(l, msg.To...), msg.Cc...)
	}
	seen := map[string]bool{strings.ToLower(user.Email()): true}
	for _, a := range l {
		addr := strings.ToLower(strings.TrimSpace(a.Address))
		_, domain, ok := strings.Cut(addr, "@")
		if !ok || domain == in.cfg.Domain || seen[addr] {
			continue
		}
		seen[addr] = true
		if len(out) == maxPeople {
			return out, true
		}
		out = append(out, addr)
	}
	return out, false
}

// logMail logs a user's BCC or forward as an email activity on the timeline of each contact
// it was exchanged with that the user may view, with the contact's company and an open deal
// linked; further open deals of the contact get an activity of their own.
func (in *Inbox) logMail(tx core.App, msg *Message, user *core.Record) (string, error) {
	act := in.activityObject()
	if act == nil {
		return "no activity object in the model: stored only", nil
	}
	subject := msg.Subject
	if msg.Forwarded != nil && msg.Forwarded.Subject != "" {
		subject = msg.Forwarded.Subject
	}
	body := msg.Text
	var logged, deals int
	var unknown []string
	people, more := in.people(msg, user)
	for _, addr := range people {
		found := false
		for _, f := range act.Fields {
			if f.Type != schemas.TypeRelation || f.Multiple {
				continue
			}
			target, ok := in.cfg.Registry.Object(f.Target)
			if !ok {
				continue
			}
			emailField := ""
			for _, tf := range target.Fields {
				if tf.Type == schemas.TypeEmail {
					emailField = tf.Name
					break
				}
			}
			if emailField == "" {
				continue
			}
			recs, err := tx.FindAllRecords(target.Name, dbx.NewExp("LOWER([["+emailField+"]]) = {:addr}", dbx.Params{"addr": addr}))
			if err != nil {
				return "", err
			}
			for _, c := range recs {
				if !canView(tx, user, c) {
					continue
				}
				found = true
				links := linksOf(tx, act, c, user)
				open := in.openDeals(tx, act, c, user)
				extra := open
				if len(open) > 0 {
					if field := linkField(act, open[0]); links[field] == "" {
						links[field] = open[0].Id
						extra = open[1:]
					}
				}
				if _, err := in.save(tx, act, activity{kind: "email", subject: subject, body: body, done: true, owner: user.Id, links: links}); err != nil {
					return "", fmt.Errorf("log on %s %s: %w", target.Name, c.Id, err)
				}
				logged++
				deals += len(open)
				for _, d := range extra {
					if _, err := in.save(tx, act, activity{kind: "email", subject: subject, body: body, done: true, owner: user.Id,
						links: map[string]string{linkField(act, d): d.Id}}); err != nil {
						return "", err
					}
				}
			}
		}
		if !found {
			unknown = append(unknown, addr)
		}
	}
	result := fmt.Sprintf("logged for %s on %d record(s), %d open deal(s)", user.Email(), logged, deals)
	if len(unknown) > 0 {
		result += "; no contact visible to the sender for " + strings.Join(unknown, ", ")
	}
	if more {
		result += fmt.Sprintf("; only the first %d addresses were looked up", maxPeople)
	}
	return result, nil
}

// linkField is the activity field pointing to rec's object.
func linkField(act *schemas.Object, rec *core.Record) string {
	for _, f := range act.Fields {
		if f.Type == schemas.TypeRelation && !f.Multiple && f.Target == rec.Collection().Name {
			return f.Name
		}
	}
	return ""
}

// openDeals are the records with a pipeline not in a closed stage (deals) that point to c and
// that the activity object can link to, visible to user, most recently updated first.
func (in *Inbox) openDeals(tx core.App, act *schemas.Object, c *core.Record, user *core.Record) []*core.Record {
	var out []*core.Record
	for _, f := range act.Fields {
		if f.Type != schemas.TypeRelation || f.Multiple || f.Target == c.Collection().Name {
			continue
		}
		obj, ok := in.cfg.Registry.Object(f.Target)
		if !ok {
			continue
		}
		stage := obj.StageField()
		if stage == nil {
			continue
		}
		pipe := obj.Pipeline(stage.Pipeline)
		for _, rf := range obj.Fields {
			if rf.Type != schemas.TypeRelation || rf.Target != c.Collection().Name {
				continue
			}
			var cond dbx.Expression = dbx.HashExp{rf.Name: c.Id}
			if rf.Multiple {
				// Relation ids are [a-z0-9]; a JSON array holds them quoted.
				cond = dbx.Like(rf.Name, `"`+c.Id+`"`)
			}
			q := tx.RecordQuery(obj.Name).AndWhere(cond).OrderBy("updated DESC").Limit(100)
			var recs []*core.Record
			if err := q.All(&recs); err != nil {
				continue
			}
			for _, d := range recs {
				if pipe != nil {
					if s := pipe.Stage(d.GetString(stage.Name)); s != nil && s.IsClosed() {
						continue
					}
				}
				if canView(tx, user, d) {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

// reply marks the outbound email replied, puts the reply on the timeline of the record the
// email was about and gives that record's owner a task to answer it: one open task per sent
// email, which further replies are counted on while it is open. Anyone who received one email
// from the CRM can reply to it any number of times with new Message-IDs; a task for each would
// bury the owner's task list in one stranger's messages. rec is the reply's stored record; it
// is given the task.
func (in *Inbox) reply(tx core.App, rec *core.Record, msg *Message, outbound *core.Record, auth verdict) (string, error) {
	now := in.cfg.Now().UTC()
	if outbound.GetString("replied_at") == "" {
		outbound.Set("replied_at", now)
		if err := tx.Save(outbound); err != nil {
			return "", err
		}
	}
	result := fmt.Sprintf("reply to email %s", outbound.Id)
	act := in.activityObject()
	object, id := outbound.GetString("object"), outbound.GetString("record_id")
	if act == nil || object == "" || id == "" {
		return result + "; the email is about no record: no timeline entry", nil
	}
	related, err := tx.FindRecordById(object, id)
	if err != nil {
		return result + "; its record " + object + "/" + id + " no longer exists", nil
	}
	links := linksOf(tx, act, related, nil)
	if len(links) == 0 {
		return result + "; activities cannot link to " + object, nil
	}
	owner := ""
	if o, ok := in.cfg.Registry.Object(object); ok {
		if f := o.OwnerField(); f != nil {
			owner = related.GetString(f.Name)
		}
	}
	if _, err := in.save(tx, act, activity{kind: "email", subject: "Reply: " + msg.Subject, body: "From " + fromLine(msg) + senderNote(auth) + "\n\n" + msg.Text,
		done: true, owner: owner, links: links}); err != nil {
		return "", err
	}
	result += "; on the timeline of " + object + "/" + id
	task, first, replies, err := in.openReplyTask(tx, outbound)
	if err != nil {
		return "", err
	}
	if task != nil {
		replies++ // this one
		if act.TitleField != "" {
			task.Set(act.TitleField, fitField(task.Collection(), act.TitleField, replyTaskTitle(first, outbound, replies)))
			if err := tx.Save(task); err != nil {
				return "", err
			}
		}
		rec.Set("task", task.Id)
		return result + fmt.Sprintf(", counted on the open task %s (%d replies)", task.Id, replies), nil
	}
	task, err = in.save(tx, act, activity{kind: "task", subject: replyTaskTitle(fromAddress(msg), outbound, 1),
		body: msg.Text, owner: owner, links: links})
	if err != nil {
		return "", err
	}
	rec.Set("task", task.Id)
	if owner != "" {
		result += ", task for its owner " + owner
	}
	return result, nil
}

// openReplyTask is the open task that earlier replies to outbound raised, with the address
// of the first reply counted on it and how many are; nil when there is none (none raised, or
// the last one is done or deleted).
func (in *Inbox) openReplyTask(tx core.App, outbound *core.Record) (task *core.Record, first string, replies int, err error) {
	var last struct {
		Task string `db:"task"`
	}
	err = tx.DB().Select("task").From(Collection).
		Where(dbx.HashExp{"email": outbound.Id, "kind": KindReply}).AndWhere(dbx.NewExp("[[task]] != ''")).
		OrderBy("created DESC", "id DESC").Limit(1).One(&last)
	if err != nil {
		return nil, "", 0, nil // no reply raised a task yet
	}
	act := in.activityObject()
	task, err = tx.FindRecordById(act.Name, last.Task)
	if err != nil || task.GetBool("done") {
		return nil, "", 0, nil
	}
	var counted []struct {
		From string `db:"from"`
	}
	if err := tx.DB().Select("from").From(Collection).
		Where(dbx.HashExp{"email": outbound.Id, "kind": KindReply, "task": task.Id}).
		OrderBy("created ASC", "id ASC").All(&counted); err != nil {
		return nil, "", 0, err
	}
	first = "an unknown sender" // the replies counted on it were erased
	if len(counted) > 0 {
		first = addressOf(counted[0].From)
	}
	return task, first, len(counted), nil
}

// replyTaskTitle is the title of the task to answer n replies to the sent email outbound,
// the first from the address first. It is built from what the CRM knows: the subject of the
// email it sent, and the sender's address, which the owner can compare with the contact's.
// Neither the display name nor the subject of a reply is in it: anyone can write
// "Your CEO (urgent)" there, and a task list shows the title as the CRM's own words.
func replyTaskTitle(first string, outbound *core.Record, n int) string {
	subject := strings.TrimSpace(outbound.GetString("subject"))
	if subject == "" {
		subject = "(no subject)"
	}
	if n <= 1 {
		return fmt.Sprintf("Answer the reply from %s to %q", first, subject)
	}
	return fmt.Sprintf("Answer %d replies to %q (the first from %s)", n, subject, first)
}

// fromAddress is the address msg's From header names, in lower case.
func fromAddress(msg *Message) string {
	if msg.From == nil || msg.From.Address == "" {
		return "an unknown sender"
	}
	return strings.ToLower(msg.From.Address)
}

// fromLine is the sender of msg as the timeline shows it: the address first, then the display
// name in quotes, the sender's claim.
func fromLine(msg *Message) string {
	addr := fromAddress(msg)
	if msg.From != nil && strings.TrimSpace(msg.From.Name) != "" {
		return fmt.Sprintf("%s (%q)", addr, strings.TrimSpace(msg.From.Name))
	}
	return addr
}

// addressOf is the address of a stored From header, in lower case.
func addressOf(from string) string {
	if a, err := gomail.ParseAddress(from); err == nil && a.Address != "" {
		return strings.ToLower(a.Address)
	}
	if from == "" {
		return "an unknown sender"
	}
	return from
}

// repliesSince counts the replies to outbound stored since t.
func repliesSince(tx core.App, outbound *core.Record, t time.Time) (int, error) {
	n, err := tx.CountRecords(Collection, dbx.HashExp{"email": outbound.Id, "kind": KindReply},
		dbx.NewExp("[[created]] >= {:since}", dbx.Params{"since": t.UTC().Format(types.DefaultDateLayout)}))
	return int(n), err
}
