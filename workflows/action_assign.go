package workflows

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

func init() {
	registerAction("assign_owner", func() Action { return new(assignOwner) })
}

var _ Action = (*assignOwner)(nil)

// Assignment strategies.
const (
	strategyRoundRobin  = "round_robin"
	strategyLeastLoaded = "least_loaded"
)

// assignOwner makes a CRM user the owner of the triggering record. The candidates are the
// users with a role (and, when set, a team), in id order.
//
//	{"type": "assign_owner"}
//	{"type": "assign_owner", "strategy": "least_loaded", "role": "sales", "team": "north"}
//
// round_robin takes the candidates in turn: the next one after the user this step of this
// workflow assigned last, read from the step's latest succeeded record, so the rotation
// survives restarts and runs on any worker (the step's transaction serializes it).
// least_loaded takes the candidate owning the fewest records of the object (for objects with
// a stage field, only records in open stages; the triggering record is not counted); ties go
// to the lowest id.
//
// Output: {"owner": id, "email", "strategy", "seq": turn number (round_robin), "load":
// records owned before (least_loaded)}.
type assignOwner struct {
	// Strategy is "round_robin" (the default) or "least_loaded".
	Strategy string `json:"strategy"`
	// Role of the candidates. Default: "sales".
	Role string `json:"role"`
	// Team, when set, limits the candidates to that team.
	Team string `json:"team"`
	// Field is the owner field to set. Default: the object's owner field.
	Field string `json:"field"`

	object   *schemas.Object
	field    *schemas.Field
	stage    *schemas.Field // least_loaded: count only open stages of it
	closed   []string       // its closed stages
	workflow string         // the name compiled under, for dry runs
}

func (a *assignOwner) Prepare(p *Prep) {
	a.object, a.workflow = p.Object, p.file
	if a.Strategy == "" {
		a.Strategy = strategyRoundRobin
	}
	if a.Strategy != strategyRoundRobin && a.Strategy != strategyLeastLoaded {
		p.Errorf("/strategy", "must be round_robin or least_loaded")
	}
	if a.Role == "" {
		a.Role = schemas.RoleSales
	}
	if !slices.Contains(schemas.Roles, a.Role) {
		p.Errorf("/role", "%q is not a role (%s)", a.Role, strings.Join(schemas.Roles, ", "))
	}
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
	if sf := p.Object.StageField(); sf != nil {
		a.stage = sf
		if pipe := p.Object.Pipeline(sf.Pipeline); pipe != nil {
			for _, s := range pipe.Stages {
				if s.IsClosed() {
					a.closed = append(a.closed, s.Name)
				}
			}
		}
	}
}

func (a *assignOwner) Run(rc *RunContext) (any, error) {
	rec, err := rc.Record()
	if err != nil {
		return nil, err
	}
	filter, params := "role = {:role}", dbx.Params{"role": a.Role}
	if a.Team != "" {
		filter += " && team = {:team}"
		params["team"] = a.Team
	}
	users, err := rc.App.FindRecordsByFilter(schemas.UsersCollection, filter, "id", 0, 0, params)
	if err != nil {
		return nil, fmt.Errorf("find users to assign: %w", err)
	}
	slices.SortFunc(users, func(x, y *core.Record) int { return strings.Compare(x.Id, y.Id) })
	if len(users) == 0 {
		who := "role " + a.Role
		if a.Team != "" {
			who += " in team " + a.Team
		}
		return nil, Permanent(fmt.Errorf("no user to assign: nobody has %s", who))
	}
	out := map[string]any{"strategy": a.Strategy}
	var pick *core.Record
	if a.Strategy == strategyLeastLoaded {
		var load int
		if pick, load, err = a.leastLoaded(rc, users); err != nil {
			return nil, err
		}
		out["load"] = load
	} else {
		last, seq, err := a.lastTurn(rc)
		if err != nil {
			return nil, err
		}
		i, _ := slices.BinarySearchFunc(users, last, func(u *core.Record, id string) int { return strings.Compare(u.Id, id) })
		if i < len(users) && users[i].Id == last {
			i++
		}
		pick = users[i%len(users)]
		out["seq"] = seq + 1
	}
	out["owner"], out["email"] = pick.Id, pick.Email()
	rec.Set(a.field.Name, pick.Id)
	if err := rc.Update(rec, map[string]any{a.field.Name: pick.Id}); err != nil {
		return nil, err
	}
	return out, nil
}

// lastTurn finds the user this step of this workflow assigned last, and the turn's number.
func (a *assignOwner) lastTurn(rc *RunContext) (string, int, error) {
	where, params := "r.workflow = {:wf}", dbx.Params{"path": stepPath(rc.StepKey), "action": "assign_owner"}
	switch {
	case rc.Run != nil:
		params["wf"] = rc.Run.GetString("workflow")
	case a.workflow != "":
		where, params["name"] = "r.workflow_name = {:name}", a.workflow
	default:
		return "", 0, nil
	}
	var last struct {
		Owner string `db:"owner"`
		Seq   int    `db:"seq"`
	}
	err := rc.App.DB().NewQuery(`
		SELECT COALESCE(json_extract(s.output, '$.owner'), '') AS owner,
		       COALESCE(CAST(json_extract(s.output, '$.seq') AS INTEGER), 0) AS seq
		FROM workflow_steps s JOIN workflow_runs r ON r.id = s.run
		WHERE ` + where + ` AND s.path = {:path} AND s.action = {:action} AND s.status = 'succeeded'
		ORDER BY seq DESC LIMIT 1`).Bind(params).One(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("find the last assignment: %w", err)
	}
	return last.Owner, last.Seq, nil
}

// stepPath is the step's path in the workflow, from its key ("<run id>:<path>").
func stepPath(stepKey string) string {
	_, path, _ := strings.Cut(stepKey, ":")
	return path
}

// leastLoaded picks the user owning the fewest (open) records, the lowest id on ties.
func (a *assignOwner) leastLoaded(rc *RunContext, users []*core.Record) (*core.Record, int, error) {
	params := dbx.Params{"self": rc.RecordID}
	in := make([]string, len(users))
	for i, u := range users {
		k := fmt.Sprintf("u%d", i)
		in[i], params[k] = "{:"+k+"}", u.Id
	}
	q := fmt.Sprintf("SELECT [[%s]] AS owner, COUNT(*) AS n FROM {{%s}} WHERE [[%s]] IN (%s) AND [[id]] != {:self}",
		a.field.Name, a.object.Name, a.field.Name, strings.Join(in, ", "))
	if len(a.closed) > 0 {
		out := make([]string, len(a.closed))
		for i, s := range a.closed {
			k := fmt.Sprintf("s%d", i)
			out[i], params[k] = "{:"+k+"}", s
		}
		q += fmt.Sprintf(" AND [[%s]] NOT IN (%s)", a.stage.Name, strings.Join(out, ", "))
	}
	q += fmt.Sprintf(" GROUP BY [[%s]]", a.field.Name)
	var rows []struct {
		Owner string `db:"owner"`
		N     int    `db:"n"`
	}
	if err := rc.App.DB().NewQuery(q).Bind(params).All(&rows); err != nil {
		return nil, 0, fmt.Errorf("count the records of %s by owner: %w", a.object.Name, err)
	}
	load := make(map[string]int, len(rows))
	for _, r := range rows {
		load[r.Owner] = r.N
	}
	best := users[0]
	for _, u := range users[1:] {
		if load[u.Id] < load[best.Id] {
			best = u
		}
	}
	return best, load[best.Id], nil
}
