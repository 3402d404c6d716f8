package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/condition"
	"github.com/relata/relata/workflows/outbox"
)

func init() {
	registerAction("wait", func() Action { return new(wait) })
	registerAction("branch", func() Action { return new(branch) })
	registerAction("send_email", func() Action { return new(sendEmail) })
}

var (
	_ Action = (*wait)(nil)
	_ Action = (*branch)(nil)
	_ Action = (*sendEmail)(nil)
)

// errFlow is returned by Run of actions the executor handles itself.
var errFlow = errors.New("flow actions are run by the executor")

// wait suspends the run durably: it resumes after a delay, or at a computed time.
//
//	{"type": "wait", "for": "2d"}
//	{"type": "wait", "until": "=addDays(record.expected_close, -7)"}
type wait struct {
	For   string `json:"for"`
	Until string `json:"until"`

	until *condition.Program
}

func (a *wait) Prepare(p *Prep) {
	switch {
	case a.For != "" && a.Until != "":
		p.Errorf("", "set either \"for\" or \"until\", not both")
	case a.For != "":
		if _, err := ParseDuration(a.For); err != nil {
			p.Errorf("/for", "%v", err)
		}
	case a.Until != "":
		v := p.Value("/until", a.Until, nil)
		if v.prog == nil && !strings.HasPrefix(a.Until, "=") {
			p.Errorf("/until", "must be an expression starting with \"=\"")
		}
		a.until = v.prog
	default:
		p.Errorf("", "a wait needs \"for\" (a delay) or \"until\" (an expression)")
	}
}

func (a *wait) Run(*RunContext) (any, error) { return nil, errFlow }

// branch runs "then" or "else" depending on an expression.
//
//	{"type": "branch", "if": "record.amount > 10000", "then": [...], "else": [...]}
type branch struct {
	If   string            `json:"if"`
	Then []json.RawMessage `json:"then"`
	Else []json.RawMessage `json:"else"`

	cond *condition.Program
	then []*step
	els  []*step
}

func (a *branch) Prepare(p *Prep) { a.cond = p.Condition("/if", a.If) }

func (a *branch) Run(*RunContext) (any, error) { return nil, errFlow }

// emailSubjectMax is the length limit of the emails collection's subject field.
const emailSubjectMax = 998

// sendEmail queues an email in the outbox; delivery happens later (package outbox).
//
//	{"type": "send_email", "to": "email", "subject": "=\"Welcome, \" + record.full_name", "text": "..."}
//	{"type": "send_email", "to": "email", "template": "welcome"}
//
// With a template, the email is rendered in the step's transaction as the workflow's run-as
// user (the system when none): records that user may not view stay out of it. Subject, text
// and html, when also given, replace the template's.
type sendEmail struct {
	// To is a field of the record holding an address or a relation to a record (or user) that
	// has one, "owner", a literal address, an expression, or inside a for_each "item" (the
	// item's own address) or "item.<field>".
	To       string `json:"to"`
	Template string `json:"template"`
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	HTML     string `json:"html"`
	Category string `json:"category"`

	to, subject, text, html *Value
	// side is whose field "to" names: "record", or "item" inside a for_each.
	side string
	// nameOf says whose name the recipient's address is shown with: "" none (an expression
	// or literal address: a CRM user's name when the address is theirs), "self" the record's
	// (or item's) own title (its "email" field, or the item itself), or a relation or owner
	// field whose target holds the address ("to": "buyer"), or is named like the email field
	// ("buyer" for "buyer_email").
	nameOf  string
	toField *schemas.Field // a relation or owner field "to" names
}

func (a *sendEmail) Prepare(p *Prep) {
	a.side = "record"
	obj, to := p.Object, a.To
	if p.Item != nil && (to == "item" || strings.HasPrefix(to, "item.")) {
		a.side, obj = "item", p.Item
		to = strings.TrimPrefix(strings.TrimPrefix(to, "item"), ".")
	}
	if to == "owner" && obj.Field("owner") == nil && obj.OwnerField() != nil {
		to = obj.OwnerField().Name
	}
	switch f := obj.Field(to); {
	case a.side == "item" && to == "":
		// the item itself: its address, under its own name
		if ef := emailField(obj); ef == "" {
			p.Errorf("/to", "%s have no email field to send to", obj.Name)
		} else {
			a.to = p.Value("/to", "=item."+ef, nil)
			a.nameOf = "self"
		}
	case f != nil && (f.Type == schemas.TypeRelation || f.Type == schemas.TypeOwner) && !f.Multiple:
		a.toField, a.nameOf = f, f.Name
		if f.Type == schemas.TypeRelation {
			if t, ok := p.Registry.Object(f.Target); ok && emailField(t) == "" {
				p.Errorf("/to", "%s of field %q have no email field", f.Target, a.To)
			}
		}
	case f != nil:
		if f.Type != schemas.TypeEmail {
			p.Errorf("/to", "field %q is a %s field, not an email field or a single relation", a.To, f.Type)
		}
		a.to = p.Value("/to", "="+a.side+"."+to, nil)
		// A record's "email" is its own address; "buyer_email" is the buyer's, named by the
		// buyer relation when there is one, else by nobody.
		if to == "email" {
			a.nameOf = "self"
		} else if rel := obj.Field(strings.TrimSuffix(to, "_email")); rel != nil && rel.Name != to &&
			(rel.Type == schemas.TypeRelation || rel.Type == schemas.TypeOwner) && !rel.Multiple {
			a.nameOf = rel.Name
		}
	case a.side == "item":
		p.Errorf("/to", "%s has no field %q", obj.Name, to)
	case strings.HasPrefix(a.To, "="):
		a.to = p.Value("/to", a.To, nil)
	case strings.Contains(a.To, "@"):
		a.to = &Value{literal: a.To}
	default:
		hint := ""
		if a.To == "item" || strings.HasPrefix(a.To, "item.") {
			hint = " (\"item\" is the current item inside a for_each)"
		}
		p.Errorf("/to", "%q is neither a field of %s, \"owner\", an expression nor an address%s", a.To, p.Object.Name, hint)
	}
	if a.Template == "" && a.Subject == "" {
		p.Errorf("/subject", "an email needs a subject (or a template)")
	}
	if a.Template == "" && a.Text == "" && a.HTML == "" {
		p.Errorf("/text", "an email needs a body: text, html or a template")
	}
	if a.Category != "" && a.Category != outbox.Transactional && a.Category != outbox.Marketing {
		p.Errorf("/category", "category must be %q or %q, not %q", outbox.Transactional, outbox.Marketing, a.Category)
	}
	a.subject = p.Value("/subject", a.Subject, nil)
	a.text = p.Value("/text", a.Text, nil)
	a.html = p.Value("/html", a.HTML, nil)
}

func (a *sendEmail) Run(rc *RunContext) (any, error) {
	str := func(v *Value, what string) (string, error) {
		x, err := v.Eval(rc.Input)
		if err != nil {
			return "", Permanent(fmt.Errorf("%s: %w", what, err))
		}
		s, _ := x.(string)
		return s, nil
	}
	var to, name string
	var err error
	var user *core.Record // the CRM user the address is of, when it is known to be one
	obj, values := rc.Object, rc.Input.Record
	if a.side == "item" {
		obj, values = rc.Item, rc.Input.Item
	}
	if a.toField != nil {
		to, name, user, err = a.related(rc, obj, values, a.toField.Name)
	} else {
		to, err = str(a.to, "to")
		switch {
		case err != nil:
		case a.nameOf == "self" && obj != nil && obj.TitleField != "":
			// Mail a record's own address under the record's name: "Ada Lovelace <ada@…>".
			name, _ = values[obj.TitleField].(string)
		case a.nameOf != "" && a.nameOf != "self":
			_, name, _, err = a.related(rc, obj, values, a.nameOf)
		}
	}
	if err != nil {
		return nil, err
	}
	if to == "" {
		return map[string]any{"skipped": "no recipient address"}, nil
	}
	if name == "" {
		// An address of a CRM user is shown with the user's own name.
		if u, err := rc.App.FindAuthRecordByEmail(schemas.UsersCollection, to); err == nil {
			name, user = u.GetString("name"), u
		}
	}
	msg := outbox.Message{Template: a.Template, Category: a.Category, RecordID: rc.RecordID, IdempotencyKey: rc.StepKey}
	if rc.Object != nil {
		msg.Object = rc.Object.Name
	}
	if a.side == "item" {
		// mail to an item belongs on the item's timeline
		msg.Object, msg.RecordID = rc.Item.Name, rc.ItemID
	}
	if rc.Run != nil {
		msg.RunID = rc.Run.Id
	}
	recipient := mail.Address{Address: to}
	if name = strings.Join(strings.Fields(name), " "); name != "" {
		recipient.Name = name
		to = recipient.String()
	}
	if a.Template != "" {
		shown := recipient
		hide := user != nil && !schemas.System.MayReadEmail(user)
		if hide {
			// The template computes on a stand-in: what it makes of the address (a part, a
			// comparison, an error) would otherwise tell it, through the run's status and step,
			// to whoever reads run history or tries a dry run.
			shown.Address = hiddenRecipient
		}
		r, err := a.render(rc, shown)
		if err != nil {
			return nil, err
		}
		if hide {
			r.Subject = strings.ReplaceAll(r.Subject, hiddenRecipient, recipient.Address)
			r.Text = strings.ReplaceAll(r.Text, hiddenRecipient, recipient.Address)
			r.HTML = strings.ReplaceAll(r.HTML, hiddenRecipient, html.EscapeString(recipient.Address))
		}
		msg.Subject, msg.Text, msg.HTML = r.Subject, r.Text, r.HTML
		if msg.Category == "" {
			msg.Category = r.Category
		}
	}
	msg.To = []string{to}
	if user != nil {
		// the emails API shows a user's address only to those who may read it
		msg.UserIDs = []string{user.Id}
	}
	for _, part := range []struct {
		v    *Value
		raw  string
		what string
		dst  *string
	}{{a.subject, a.Subject, "subject", &msg.Subject}, {a.text, a.Text, "text", &msg.Text}, {a.html, a.HTML, "html", &msg.HTML}} {
		if part.raw == "" {
			continue
		}
		if *part.dst, err = str(part.v, part.what); err != nil {
			return nil, err
		}
	}
	if n := utf8.RuneCountInString(msg.Subject); n > emailSubjectMax {
		return nil, Permanent(fmt.Errorf("subject: %d characters, at most %d", n, emailSubjectMax))
	}
	if rc.group != nil {
		// In a group of runs the email is queued with the group's others at its end (one
		// idempotency lookup and one insert for the group); its id is chosen now.
		if err := msg.Validate(); err != nil {
			return nil, Permanent(err)
		}
		out := map[string]any{"email": rc.group.email(msg), "to": shownTo(msg.To, user, recipient.Name), "subject": a.shownSubject(msg.Subject, user)}
		if a.Template != "" {
			out["template"] = a.Template
		}
		return out, nil
	}
	// One row written without record hooks (the outbox's wake-up is the only one; it is
	// called after the commit instead): a record save validated the same fields at several
	// times the cost per email.
	ids, err := outbox.EnqueueMany(rc.App, []outbox.Message{msg})
	if err != nil {
		if errors.Is(err, outbox.ErrInvalid) {
			return nil, Permanent(err)
		}
		return nil, err
	}
	if app := rc.App; app.IsTransactional() {
		// the transaction's app shares the app's store, where the outbox's sender is
		app.TxInfo().OnComplete(func(txErr error) error {
			if txErr == nil {
				outbox.Wake(app)
			}
			return txErr
		})
	} else {
		outbox.Wake(rc.App)
	}
	out := map[string]any{"email": ids[0], "to": shownTo(msg.To, user, recipient.Name), "subject": a.shownSubject(msg.Subject, user)}
	if a.Template != "" {
		out["template"] = a.Template
	}
	return out, nil
}

// related reads the record that relation or owner field of the triggering record (or item:
// obj and its values) points to (as the run-as user, when there is one) and returns its email
// address and its name: a user's name, or the record's title. A field that points nowhere
// gives no address.
func (a *sendEmail) related(rc *RunContext, obj *schemas.Object, values map[string]any, field string) (addr, name string, user *core.Record, err error) {
	f := obj.Field(field)
	id, _ := values[field].(string)
	if f == nil || id == "" {
		return "", "", nil, nil
	}
	target := schemas.UsersCollection
	if f.Type == schemas.TypeRelation {
		target = f.Target
	}
	rec, err := rc.App.FindRecordById(target, id)
	if err != nil {
		return "", "", nil, nil // deleted since: nobody to mail, or to name
	}
	if rc.Actor != nil {
		ok, err := schemas.User(rc.Actor).CanView(rc.App, rec)
		if err != nil || !ok {
			return "", "", nil, Permanent(fmt.Errorf("to: %s is not allowed to view %s %s", rc.actorName(), target, id))
		}
	}
	if target == schemas.UsersCollection {
		return rec.Email(), rec.GetString("name"), rec, nil
	}
	obj, ok := rc.Engine.reg.Object(target)
	if !ok {
		return "", "", nil, nil
	}
	return rec.GetString(emailField(obj)), rec.GetString(obj.TitleField), nil, nil
}

// hiddenRecipient stands in for the address of a recipient who keeps it hidden while a
// template renders; the rendered email gets the address in its place.
const hiddenRecipient = "relata-hidden-recipient@address.invalid"

// shownSubject is the subject as the step's output shows it: a template may print the
// recipient's address ({{.recipient.email}}, or a part of it), so a subject rendered for a
// user who keeps it hidden is not shown (see shownTo).
func (a *sendEmail) shownSubject(subject string, user *core.Record) string {
	if a.Template == "" || user == nil || schemas.System.MayReadEmail(user) {
		return subject
	}
	return "(not shown: rendered for a user whose address is hidden)"
}

// shownTo is the recipient as the step's output shows it. The output is kept in the run
// history and shown by dry runs to every manager: the address of a CRM user who keeps it
// hidden is named by the user instead (a dry run of "to": "owner" on a record given with
// any owner told that user's address, without a mail being sent).
func shownTo(to []string, user *core.Record, name string) []string {
	if user == nil || schemas.System.MayReadEmail(user) {
		return to
	}
	if name == "" {
		name = "user " + user.Id
	}
	return []string{name + " (user " + user.Id + ", address hidden)"}
}

// emailField is the address field of obj: "email" if it has one, else its first email field.
func emailField(obj *schemas.Object) string {
	name := ""
	for _, f := range obj.Fields {
		if f.Type == schemas.TypeEmail && (name == "" || f.Name == "email") {
			name = f.Name
		}
	}
	return name
}

// render renders the action's template for the triggering record, as the run-as user.
func (a *sendEmail) render(rc *RunContext, to mail.Address) (*outbox.Rendered, error) {
	var rec *core.Record
	if rc.Object != nil && rc.RecordID != "" {
		var err error
		if rec, err = rc.App.FindRecordById(rc.Object.Name, rc.RecordID); err != nil {
			// Deleted (a record_deleted trigger): render the record as the trigger saw it.
			coll, cerr := rc.App.FindCachedCollectionByNameOrId(rc.Object.Name)
			if cerr != nil {
				return nil, Permanent(fmt.Errorf("template %s: %w", a.Template, cerr))
			}
			rec = core.NewRecord(coll)
			rec.Load(rc.Input.Record)
			rec.Id = rc.RecordID
		}
	}
	r, err := outbox.Render(rc.App, a.Template, outbox.RenderInput{Record: rec, Actor: rc.Actor, Recipient: to})
	var te *outbox.TemplateError
	switch {
	case errors.Is(err, outbox.ErrTemplateNotFound), errors.Is(err, outbox.ErrNoAccess), errors.As(err, &te):
		return nil, Permanent(fmt.Errorf("template %s: %w", a.Template, err))
	case err != nil:
		return nil, err
	}
	return r, nil
}
