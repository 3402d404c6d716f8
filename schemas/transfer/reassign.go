package transfer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/list"

	"github.com/relata/relata/schemas"
)

// Tasks is the pseudo-object of a reassignment that stands for the open tasks: activities of
// type "task" not done.
const Tasks = "tasks"

// DefaultReassignObjects are what a reassignment hands over when no objects are named.
var DefaultReassignObjects = []string{"deals", "contacts", "companies", Tasks}

// ReassignOptions says whose records go to whom.
type ReassignOptions struct {
	// From is the departing rep: a CRM user's email or id.
	From string `json:"from"`
	// To are the reps who take over (emails or ids): one gets everything; several share the
	// records round robin, object by object in creation order.
	To []string `json:"to"`
	// Objects are the objects handed over: any object with an owner field, or "tasks" for
	// the open tasks. Default: [DefaultReassignObjects] (those that exist).
	Objects []string `json:"objects,omitempty"`
	// DryRun counts and writes nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// Workflows lets each change of owner trigger workflows (default: none run).
	Workflows bool `json:"workflows,omitempty"`
	// As is the manager or admin reassigning; nil is a superuser (the command line).
	As *core.Record `json:"-"`
	// BatchSize is how many records one transaction changes. Default: 200.
	BatchSize int `json:"-"`
}

// Person is a CRM user as a reassignment names them.
type Person struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// ReassignPreview is what a reassignment would hand over, before it runs.
type ReassignPreview struct {
	From    Person         `json:"from"`
	To      []Person       `json:"to"`
	Objects []ObjectCount  `json:"objects"`
	Total   int            `json:"total"`
	Shares  map[string]int `json:"shares"` // new owner id -> records they would receive
}

// ObjectCount is how many records of an object a reassignment hands over.
type ObjectCount struct {
	Object string `json:"object"`
	Label  string `json:"label"`
	Count  int    `json:"count"`
}

// ErrNotManager is returned when a sales user asks for a reassignment.
var ErrNotManager = fmt.Errorf("only managers and admins may reassign a rep's records: %w", errForbidden)

// PreviewReassign counts what a reassignment would hand over, per object and per new owner.
func (s *Service) PreviewReassign(opts ReassignOptions) (*ReassignPreview, error) {
	release, err := s.acquire(opts.As)
	if err != nil {
		return nil, err
	}
	defer release()
	_, pv, err := s.planReassign(opts)
	return pv, err
}

// Reassign hands a departing rep's records over, to the end, as one job. With DryRun it
// checks each change (rules and validation) and writes only the job. Like the preview, it
// runs in one of the user's slots ([MaxBusyPerUser]).
func (s *Service) Reassign(ctx context.Context, opts ReassignOptions) (*Job, *ReassignPreview, error) {
	release, err := s.acquire(opts.As)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	p, pv, err := s.planReassign(opts)
	if err != nil {
		return nil, nil, err
	}
	rec, err := s.newJob(p)
	if err != nil {
		return nil, nil, err
	}
	return s.run(ctx, rec, p), pv, nil
}

// StartReassign checks a reassignment and runs it as a background job; the user's slot is
// taken before the check.
func (s *Service) StartReassign(opts ReassignOptions) (*Job, *ReassignPreview, error) {
	var pv *ReassignPreview
	j, err := s.start(opts.As, func() (p *plan, err error) {
		p, pv, err = s.planReassign(opts)
		return p, err
	})
	return j, pv, err
}

// findUser finds a CRM user by email or id.
func (s *Service) findUser(field, key string) (*core.Record, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, badRequest(field, "name a CRM user by email or id")
	}
	if strings.Contains(key, "@") {
		if u, err := s.app.FindAuthRecordByEmail(schemas.UsersCollection, key); err == nil {
			return u, nil
		}
	} else if u, err := s.app.FindRecordById(schemas.UsersCollection, key); err == nil {
		return u, nil
	}
	return nil, badRequest(field, "no CRM user %q", key)
}

func person(u *core.Record) Person {
	return Person{ID: u.Id, Email: u.Email(), Name: u.GetString("name")}
}

func (s *Service) planReassign(opts ReassignOptions) (*plan, *ReassignPreview, error) {
	if opts.As != nil && !opts.As.IsSuperuser() {
		role := opts.As.GetString("role")
		if opts.As.Collection().Name != schemas.UsersCollection || (role != schemas.RoleAdmin && role != schemas.RoleManager) {
			return nil, nil, ErrNotManager
		}
	}
	from, err := s.findUser("from", opts.From)
	if err != nil {
		return nil, nil, err
	}
	if len(opts.To) == 0 {
		return nil, nil, badRequest("to", "name at least one rep to take over")
	}
	pv := &ReassignPreview{From: person(from), Objects: []ObjectCount{}, Shares: map[string]int{}}
	var to []*core.Record
	for _, key := range opts.To {
		u, err := s.findUser("to", key)
		if err != nil {
			return nil, nil, err
		}
		if u.Id == from.Id {
			return nil, nil, badRequest("to", "%s is the departing rep", u.Email())
		}
		if u.GetBool("disabled") {
			return nil, nil, badRequest("to", "%s is disabled", u.Email())
		}
		if slices.ContainsFunc(to, func(x *core.Record) bool { return x.Id == u.Id }) {
			continue
		}
		to = append(to, u)
		pv.To = append(pv.To, person(u))
		pv.Shares[u.Id] = 0
	}
	objects := opts.Objects
	if len(objects) == 0 {
		for _, name := range DefaultReassignObjects {
			obj := name
			if name == Tasks {
				obj = "activities"
			}
			if _, ok := s.reg.Object(obj); ok {
				objects = append(objects, name)
			}
		}
	}
	p := &plan{kind: "reassign", action: ActionReassign, as: opts.As, workflows: opts.Workflows, dryRun: opts.DryRun,
		batch: opts.BatchSize, perObject: true, record: true}
	toIDs := make([]string, len(to))
	for i, u := range to {
		toIDs[i] = u.Id
	}
	p.params = map[string]any{"from": from.Id, "fromEmail": from.Email(), "to": toIDs, "objects": objects, "dryRun": opts.DryRun, "workflows": opts.Workflows}
	c := callerOf(opts.As)
	owners := map[string]string{} // collection name -> owner field
	k := 0
	for _, name := range list.ToUniqueStringSlice(objects) {
		objName := name
		if name == Tasks {
			objName = "activities"
		}
		o, ok := s.reg.Object(objName)
		if !ok || o == nil || o.OwnerField() == nil {
			return nil, nil, badRequest("objects", "%q is not an object with an owner", name)
		}
		coll, err := s.app.FindCachedCollectionByNameOrId(o.Name)
		if err != nil {
			return nil, nil, badRequest("objects", "%q is not an object with an owner", name)
		}
		of := o.OwnerField().Name
		owners[coll.Name] = of
		q, err := schemas.ListQuery(s.app, coll, c)
		if err != nil {
			return nil, nil, errForbidden
		}
		q.Select("[[" + coll.Name + ".id]]").AndWhere(dbx.HashExp{coll.Name + "." + of: from.Id})
		if name == Tasks {
			if o.Field("type") == nil || o.Field("done") == nil {
				return nil, nil, badRequest("objects", "%s has no type and done fields for open tasks", o.Name)
			}
			q.AndWhere(dbx.HashExp{coll.Name + ".type": "task"}).AndWhere(dbx.NewExp("[[" + coll.Name + ".done]] = FALSE"))
		}
		// Creation order: records created in the same millisecond in the order they were
		// inserted (rowid), not by their random ids.
		q.OrderBy(coll.Name+".created ASC", coll.Name+"._rowid_ ASC")
		var ids []string
		if err := q.Column(&ids); err != nil {
			return nil, nil, fmt.Errorf("find %s's %s: %w", from.Email(), name, err)
		}
		label := o.Label.Plural
		if name == Tasks {
			label = "Open tasks"
		}
		pv.Objects = append(pv.Objects, ObjectCount{Object: name, Label: label, Count: len(ids)})
		for _, id := range ids {
			who := to[k%len(to)].Id
			k++
			pv.Shares[who]++
			p.targets = append(p.targets, jobTarget{coll: coll, id: id, group: name, to: who})
		}
	}
	pv.Total = len(p.targets)
	p.change = func(rec *core.Record, t *jobTarget) (map[string]any, bool, error) {
		of := owners[rec.Collection().Name]
		if rec.GetString(of) != from.Id {
			return nil, false, fmt.Errorf("no longer owned by %s", from.Email())
		}
		rec.Set(of, t.to)
		return map[string]any{of: t.to}, false, nil
	}
	return p, pv, nil
}
