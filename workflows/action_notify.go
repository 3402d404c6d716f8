package workflows

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/notify"
	"github.com/relata/relata/workflows/outbox"
)

func init() {
	registerAction("notify", func() Action { return new(notifyAction) })
}

var _ Action = (*notifyAction)(nil)

// notifyAction gives a user an in-app notification (the web app's bell), and an email too
// with "email": true or when the user asked for workflow notifications by email.
//
//	{"type": "notify", "to": "owner", "title": "=\"Big deal: \" + record.name", "body": "Call them today.", "email": true}
//
// "to" is "owner" (the record's owner), "actor" (the user who caused the event), an owner
// field or a relation to users of the record, a user's email address, or an expression
// giving a user's id or email address. Title and body are text or expressions, like
// send_email's subject and text. The notification links to the triggering record, and it is
// created in the step's transaction, once per run and step (retries included). A user who
// may not view the record still gets it — workflows speak for the business — but it carries
// only what the title and body say.
type notifyAction struct {
	To    string `json:"to"`
	Title string `json:"title"`
	Body  string `json:"body"`
	Email bool   `json:"email"`
	// Template names an email template whose subject and text become the title and body
	// (rendered for the user notified, as the run-as user); title and body replace them.
	Template string `json:"template"`

	field       string // an owner or users relation field of the record
	to          *Value // an expression
	title, body *Value
}

func (a *notifyAction) Prepare(p *Prep) {
	switch f := p.Object.Field(a.To); {
	case a.To == "owner":
		if p.Object.OwnerField() == nil {
			p.Errorf("/to", "%s has no owner field; set \"to\" to \"actor\", a user field, an email or an expression", p.Object.Name)
		} else {
			a.field = p.Object.OwnerField().Name
		}
	case a.To == "actor":
	case f != nil:
		if f.Type != schemas.TypeOwner && (f.Type != schemas.TypeRelation || f.Target != schemas.UsersCollection) || f.Multiple {
			p.Errorf("/to", "field %q is a %s field, not an owner field or a single relation to users", a.To, f.Type)
		}
		a.field = f.Name
	case strings.HasPrefix(a.To, "="):
		a.to = p.Value("/to", a.To, nil)
	case strings.Contains(a.To, "@"):
	default:
		p.Errorf("/to", "%q is neither \"owner\", \"actor\", a user field of %s, an email address nor an expression", a.To, p.Object.Name)
	}
	if strings.TrimSpace(a.Title) == "" && a.Template == "" {
		p.Errorf("/title", "a notification needs a title (or a template)")
	}
	a.title = p.Value("/title", a.Title, nil)
	a.body = p.Value("/body", a.Body, nil)
}

func (a *notifyAction) Run(rc *RunContext) (any, error) {
	who, err := a.recipient(rc)
	if err != nil {
		return nil, err
	}
	if who == "" {
		return map[string]any{"skipped": "no user to notify"}, nil
	}
	user, err := findUser(rc.App, who)
	if err != nil {
		return nil, Permanent(fmt.Errorf("to: %s is not a CRM user", who))
	}
	str := func(v *Value, what string) (string, error) {
		x, err := v.Eval(rc.Input)
		if err != nil {
			return "", Permanent(fmt.Errorf("%s: %w", what, err))
		}
		s, _ := x.(string)
		return s, nil
	}
	var title, body string
	if a.Template != "" {
		var rec *core.Record
		if rc.Object != nil && rc.RecordID != "" {
			rec, _ = rc.App.FindRecordById(rc.Object.Name, rc.RecordID)
		}
		// The title is kept in the step's output, which every manager reads (and a dry run
		// shows): the recipient's address only where they made it visible.
		to := mail.Address{Name: user.GetString("name")}
		if schemas.System.MayReadEmail(user) {
			to.Address = user.Email()
		}
		r, err := outbox.Render(rc.App, a.Template, outbox.RenderInput{Record: rec, Actor: rc.Actor, Recipient: to})
		var te *outbox.TemplateError
		switch {
		case errors.Is(err, outbox.ErrTemplateNotFound), errors.Is(err, outbox.ErrNoAccess), errors.As(err, &te):
			return nil, Permanent(fmt.Errorf("template %s: %w", a.Template, err))
		case err != nil:
			return nil, err
		}
		title, body = r.Subject, r.Text
	}
	if a.Title != "" {
		if title, err = str(a.title, "title"); err != nil {
			return nil, err
		}
	}
	if a.Body != "" {
		if body, err = str(a.body, "body"); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(title) == "" {
		return nil, Permanent(errors.New("title: the expression gave no text"))
	}
	n := notify.Notification{User: user.Id, Kind: notify.KindWorkflow, Title: title, Body: body, RecordID: rc.RecordID,
		Email: a.Email, Key: "workflow:" + rc.StepKey + ":" + user.Id}
	if rc.Object != nil {
		n.Object = rc.Object.Name
	}
	if rc.Actor != nil {
		n.Actor = rc.Actor.Id
	}
	rec, err := notify.Send(rc.App, n)
	if err != nil {
		if errors.Is(err, notify.ErrInvalid) || errors.Is(err, outbox.ErrInvalid) {
			return nil, Permanent(err)
		}
		return nil, err
	}
	out := map[string]any{"user": user.Id, "title": title}
	if rec != nil {
		out["notification"] = rec.Id
	} else {
		out["skipped"] = "the user turned workflow notifications off in the app"
	}
	return out, nil
}

// recipient is the id or email address of the user to notify ("" for nobody).
func (a *notifyAction) recipient(rc *RunContext) (string, error) {
	switch {
	case a.To == "actor":
		return rc.Input.User.ID, nil
	case a.field != "":
		v, _ := rc.Input.Record[a.field].(string)
		return v, nil
	case a.to != nil:
		x, err := a.to.Eval(rc.Input)
		if err != nil {
			return "", Permanent(fmt.Errorf("to: %w", err))
		}
		s, _ := x.(string)
		return strings.TrimSpace(s), nil
	}
	return a.To, nil
}
