package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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

// sendEmail queues an email in the outbox; delivery happens later (package outbox).
//
//	{"type": "send_email", "to": "email", "subject": "=\"Welcome, \" + record.full_name", "text": "..."}
type sendEmail struct {
	// To is a field of the record holding an address, an expression, or a literal address.
	To       string `json:"to"`
	Template string `json:"template"`
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	HTML     string `json:"html"`
	Category string `json:"category"`

	to, subject, text, html *Value
}

func (a *sendEmail) Prepare(p *Prep) {
	switch f := p.Object.Field(a.To); {
	case f != nil:
		if f.Type != "email" {
			p.Errorf("/to", "field %q is a %s field, not an email field", a.To, f.Type)
		}
		a.to = p.Value("/to", "=record."+a.To, nil)
	case strings.HasPrefix(a.To, "="):
		a.to = p.Value("/to", a.To, nil)
	case strings.Contains(a.To, "@"):
		a.to = &Value{literal: a.To}
	default:
		p.Errorf("/to", "%q is neither a field of %s, an expression nor an address", a.To, p.Object.Name)
	}
	if a.Template == "" && a.Subject == "" {
		p.Errorf("/subject", "an email needs a subject (or a template)")
	}
	if a.Template == "" && a.Text == "" && a.HTML == "" {
		p.Errorf("/text", "an email needs a body: text, html or a template")
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
	to, err := str(a.to, "to")
	if err != nil {
		return nil, err
	}
	if to == "" {
		return map[string]any{"skipped": "no recipient address"}, nil
	}
	msg := outbox.Message{To: []string{to}, Template: a.Template, Category: a.Category, RecordID: rc.RecordID, IdempotencyKey: rc.StepKey}
	if rc.Object != nil {
		msg.Object = rc.Object.Name
	}
	if rc.Run != nil {
		msg.RunID = rc.Run.Id
	}
	if msg.Subject, err = str(a.subject, "subject"); err != nil {
		return nil, err
	}
	if msg.Text, err = str(a.text, "text"); err != nil {
		return nil, err
	}
	if msg.HTML, err = str(a.html, "html"); err != nil {
		return nil, err
	}
	rec, err := outbox.Enqueue(rc.App, msg)
	if err != nil {
		if errors.Is(err, outbox.ErrInvalid) {
			return nil, Permanent(err)
		}
		return nil, err
	}
	return map[string]any{"email": rec.Id, "to": msg.To, "subject": msg.Subject}, nil
}
