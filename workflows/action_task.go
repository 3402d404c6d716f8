package workflows

import (
	"fmt"
	"regexp"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

func init() {
	registerAction("create_task", func() Action { return new(createTask) })
}

var _ Action = (*createTask)(nil)

var durationRe = regexp.MustCompile(`^[+-]?[0-9]{1,6}[mhdw]$`)

// createTask creates a task (a record of the activity object) linked to the triggering record
// and, inside a for_each, to the item.
//
//	{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d", "assignee": "owner"}
type createTask struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
	// Due is a delay from now ("1d", "4h"), a relative date ("today+1d"), or an expression.
	Due string `json:"due"`
	// Assignee is "owner" (the triggering record's owner; the default), "actor" (the user who
	// caused the event), a user's email, or an expression giving a user id.
	Assignee string `json:"assignee"`
	// ActivityType is the value of the activity's type field. Default: "task".
	ActivityType string `json:"activityType"`

	activity          *schemas.Object
	subject, body     *Value
	due, assigneeExpr *Value
	delay             time.Duration
	hasDelay          bool
}

func (a *createTask) Prepare(p *Prep) {
	for _, o := range p.Registry.Objects() {
		if o.Activity {
			a.activity = o
			break
		}
	}
	if a.activity == nil {
		p.Errorf("", "no activity object is defined (an object with \"activity\": true)")
		return
	}
	if a.ActivityType == "" {
		a.ActivityType = "task"
	}
	if f := a.activity.Field("type"); f != nil && f.Type == schemas.TypeSelect && !f.HasOption(a.ActivityType) {
		p.Errorf("/activityType", "%q is not an activity type (%v)", a.ActivityType, f.OptionValues())
	}
	title := a.activity.Field(a.activity.TitleField)
	a.subject = p.Value("/subject", a.Subject, title)
	if a.Body != "" {
		a.body = p.Value("/body", a.Body, nil)
	}
	switch {
	case a.Due == "":
	case durationRe.MatchString(a.Due):
		a.delay, _ = ParseDuration(a.Due)
		a.hasDelay = true
	default:
		a.due = p.Value("/due", a.Due, &schemas.Field{Name: "due", Type: schemas.TypeDateTime})
	}
	switch a.Assignee {
	case "", "owner":
		if p.Object.OwnerField() == nil {
			p.Errorf("/assignee", "%s has no owner field; set assignee to \"actor\", an email or an expression", p.Object.Name)
		}
	case "actor":
	default:
		if a.Assignee[0] == '=' {
			a.assigneeExpr = p.Value("/assignee", a.Assignee, nil)
		}
	}
}

func (a *createTask) Run(rc *RunContext) (any, error) {
	vals := map[string]any{}
	if f := a.activity.Field("type"); f != nil {
		vals["type"] = a.ActivityType
	}
	subject, err := a.subject.Eval(rc.Input)
	if err != nil {
		return nil, Permanent(fmt.Errorf("subject: %w", err))
	}
	vals[a.activity.TitleField] = subject
	if a.body != nil {
		if vals["body"], err = a.body.Eval(rc.Input); err != nil {
			return nil, Permanent(fmt.Errorf("body: %w", err))
		}
	}
	if dueField := a.dueField(); dueField != "" {
		switch {
		case a.hasDelay:
			vals[dueField] = rc.Input.Now.Add(a.delay).UTC()
		case a.due != nil:
			if vals[dueField], err = a.due.Eval(rc.Input); err != nil {
				return nil, Permanent(fmt.Errorf("due: %w", err))
			}
		}
	}
	assignee, err := a.assignee(rc)
	if err != nil {
		return nil, err
	}
	if of := a.activity.OwnerField(); of != nil && assignee != "" {
		vals[of.Name] = assignee
	}
	for _, f := range linkFields(a.activity, rc.Object) {
		vals[f] = rc.RecordID
	}
	if rc.Item != nil {
		// inside a for_each the task is about the item too (about the item alone when both
		// are of the same object)
		for _, f := range linkFields(a.activity, rc.Item) {
			vals[f] = rc.ItemID
		}
	}
	rec, err := newRecord(rc, a.activity.Name, vals)
	if err != nil {
		return nil, err
	}
	return map[string]any{"object": a.activity.Name, "id": rec.Id, "values": vals}, nil
}

func (a *createTask) dueField() string {
	for _, name := range []string{"due", "due_at", "due_date"} {
		if f := a.activity.Field(name); f != nil && (f.Type == schemas.TypeDateTime || f.Type == schemas.TypeDate) {
			return name
		}
	}
	return ""
}

func (a *createTask) assignee(rc *RunContext) (string, error) {
	switch a.Assignee {
	case "", "owner":
		if of := rc.Object.OwnerField(); of != nil {
			if v, _ := rc.Input.Record[of.Name].(string); v != "" {
				return v, nil
			}
		}
		return "", nil
	case "actor":
		return rc.Input.User.ID, nil
	}
	if a.assigneeExpr != nil {
		v, err := a.assigneeExpr.Eval(rc.Input)
		if err != nil {
			return "", Permanent(fmt.Errorf("assignee: %w", err))
		}
		s, _ := v.(string)
		return s, nil
	}
	u, err := rc.App.FindAuthRecordByEmail(schemas.UsersCollection, a.Assignee)
	if err != nil {
		return "", Permanent(fmt.Errorf("assignee %s is not a CRM user", a.Assignee))
	}
	return u.Id, nil
}

// findUser is a small helper for actions that resolve users by email or id.
func findUser(app core.App, emailOrID string) (*core.Record, error) {
	if u, err := app.FindAuthRecordByEmail(schemas.UsersCollection, emailOrID); err == nil {
		return u, nil
	}
	return app.FindRecordById(schemas.UsersCollection, emailOrID)
}
