package workflows

import (
	"errors"
	"fmt"
	"strings"

	"github.com/relata/relata/schemas"
)

func init() {
	registerAction("assign_owner", func() Action { return new(assignOwner) })
}

var _ Action = (*assignOwner)(nil)

// assignOwner makes a CRM user the owner of the triggering record, by the same assignment
// rules forms use ([schemas.Assignment]): either a list of rules, or one rule written flat.
//
//	{"type": "assign_owner"}
//	{"type": "assign_owner", "strategy": "least_loaded", "role": "sales", "team": "north"}
//	{"type": "assign_owner", "rules": [{"when": {"source": ["partner"]}, "team": "south"}, {"team": "north"}]}
//
// round_robin takes the candidates (by id) in turn, with a durable counter per rule of this
// step of this workflow, advanced in the step's transaction: the rotation survives restarts
// and runs on any worker. least_loaded takes the candidate owning the fewest records of the
// object (for objects with a stage field, only records in open stages; the triggering record
// is not counted); ties go to the lowest id. When no rule matches, the step does nothing.
//
// Output: {"owner": id, "name", "email" (only when the user made it visible), "strategy", "rule": index, "seq": turn number
// (round_robin), "load": records owned before (least_loaded)}; {"matched": false} when no
// rule matched.
type assignOwner struct {
	// Strategy, Role, Team, Users and When are one rule, when Rules is not set.
	Strategy string              `json:"strategy"`
	Role     string              `json:"role"`
	Team     string              `json:"team"`
	Users    []string            `json:"users"`
	When     map[string][]string `json:"when"`
	// Rules are the assignment rules, the first matching one applies.
	Rules []*schemas.AssignRule `json:"rules"`
	// Field is the owner field to set. Default: the object's owner field.
	Field string `json:"field"`

	assignment *schemas.Assignment
	object     *schemas.Object
	field      *schemas.Field
	workflow   string // the name compiled under, for dry runs
}

func (a *assignOwner) Prepare(p *Prep) {
	a.object, a.workflow = p.Object, p.file
	switch {
	case p.Object == noObject:
		p.Errorf("", "assign_owner needs a workflow about an object")
		return
	case a.Field == "":
		if a.field = p.Object.OwnerField(); a.field == nil {
			p.Errorf("", "%s has no owner field", p.Object.Name)
			return
		}
	default:
		f := p.Object.Field(a.Field)
		switch {
		case f == nil:
			p.Errorf("/field", "%s has no field %q", p.Object.Name, a.Field)
			return
		case f.Multiple || f.Type != schemas.TypeOwner && (f.Type != schemas.TypeRelation || f.Target != schemas.UsersCollection):
			p.Errorf("/field", "field %q is not a single owner field", a.Field)
			return
		}
		a.field = f
	}
	prefix := "/rules"
	if len(a.Rules) > 0 {
		if a.Strategy != "" || a.Role != "" || a.Team != "" || len(a.Users) > 0 || len(a.When) > 0 {
			p.Errorf("/rules", "write either rules or one rule (strategy, role, team, users, when), not both")
		}
		a.assignment = &schemas.Assignment{Rules: a.Rules}
	} else {
		a.assignment = &schemas.Assignment{Rules: []*schemas.AssignRule{{Strategy: a.Strategy, Role: a.Role, Team: a.Team, Users: a.Users, When: a.When}}}
		prefix = "/rules/0"
	}
	for _, pr := range a.assignment.Check(p.Object) {
		ptr := pr.Pointer
		if prefix == "/rules/0" {
			ptr = strings.TrimPrefix(ptr, "/rules/0") // a flat rule: its keys sit on the action
		}
		if pr.Pointer == "" {
			continue // no owner field: reported above
		}
		p.Errorf(ptr, "%s", pr.Message)
	}
}

func (a *assignOwner) Run(rc *RunContext) (any, error) {
	rec, err := rc.Record()
	if err != nil {
		return nil, err
	}
	// The counters are per workflow name and step; a dry run advances them in its rolled
	// back transaction, so it previews the next turn without taking it.
	name := a.workflow
	if rc.Run != nil && rc.Run.GetString("workflow_name") != "" {
		name = rc.Run.GetString("workflow_name")
	}
	key := "workflow:" + name + ":" + stepPath(rc.StepKey)
	for i, r := range a.assignment.Rules {
		if r == nil || !r.Matches(rec) {
			continue
		}
		got, err := r.Pick(rc.App, a.object, a.field, fmt.Sprintf("%s#%d", key, i), rec.Id)
		var none *schemas.NoCandidateError
		if errors.As(err, &none) {
			return nil, Permanent(err)
		}
		if err != nil {
			return nil, err
		}
		out := map[string]any{"strategy": got.Strategy, "rule": i, "owner": got.User.Id, "name": got.User.GetString("name")}
		if schemas.System.MayReadEmail(got.User) {
			// the run history and dry runs show it to every manager: only an address its user
			// made visible
			out["email"] = got.User.Email()
		}
		if got.Strategy == schemas.AssignLeastLoaded {
			out["load"] = got.Load
		} else {
			out["seq"] = got.Seq
		}
		rec.Set(a.field.Name, got.User.Id)
		if err := rc.Update(rec, map[string]any{a.field.Name: got.User.Id}); err != nil {
			return nil, err
		}
		return out, nil
	}
	return map[string]any{"matched": false}, nil
}

// stepPath is the step's path in the workflow, from its key ("<run id>:<path>").
func stepPath(stepKey string) string {
	_, path, _ := strings.Cut(stepKey, ":")
	return path
}
