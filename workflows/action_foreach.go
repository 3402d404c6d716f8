package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

func init() {
	registerAction("for_each", func() Action { return new(forEach) })
}

var _ Action = (*forEach)(nil)

// Limits of for_each.
const (
	// DefaultForEachMax is the most items a for_each handles when its definition sets no max.
	DefaultForEachMax = 1000
	// MaxForEachMax is the highest max a definition may set.
	MaxForEachMax = 100000
	// forEachPage is how many items are read at a time.
	forEachPage = 200
)

// forEach runs its actions once per related record — the item — which expressions see as
// item beside record.
//
//	{"type": "for_each", "over": "contacts", "actions": [...]}          a relation field of the record
//	{"type": "for_each", "over": "deals.company", "actions": [...]}     deals whose company is the record
//	{"type": "for_each", "over": {"object": "deals", "filter": "stage != 'lost' && company = {:c}",
//	  "params": {"c": "=record.id"}}, "actions": [...]}                   records found as the run-as user
//
// Items are read as the run-as user (records they may not list are left out), in pages, in id
// order. Each nested action of each item is its own step, keyed by the item's id
// ("2.item:<id>.0"), so a run resumed after a crash repeats no item's completed action. Before
// the first item, the items are counted: more than max (default 1000) fails the run and
// changes nothing.
type forEach struct {
	Over    json.RawMessage   `json:"over"`
	Actions []json.RawMessage `json:"actions"`
	Max     int               `json:"max"`

	item   *schemas.Object
	field  *schemas.Field // a relation field of the record ("contacts")
	back   *schemas.Field // a relation field of item pointing at the record ("deals.company")
	filter string         // {"object", "filter"}
	params map[string]*Value
	steps  []*step // paths relative to an item: "0", "1.then.0"
}

// overQuery is the object form of "over".
type overQuery struct {
	Object string         `json:"object"`
	Filter string         `json:"filter"`
	Params map[string]any `json:"params"`
}

var placeholderRe = regexp.MustCompile(`\{:(\w+)\}`)

func (a *forEach) Prepare(p *Prep) {
	if p.Item != nil {
		p.Errorf("", "a for_each cannot be inside another for_each")
		return
	}
	switch {
	case a.Max == 0:
		a.Max = DefaultForEachMax
	case a.Max < 1 || a.Max > MaxForEachMax:
		p.Errorf("/max", "max must be between 1 and %d, not %d", MaxForEachMax, a.Max)
	}
	a.prepareOver(p)
	if a.item == nil {
		return
	}
	if len(a.Actions) == 0 {
		p.Errorf("/actions", "a for_each needs at least one action")
	}
	sub := *p
	sub.Item = a.item
	a.steps = compileSteps(&sub, a.Actions, p.pointer+"/actions", "")
	a.refuseWaits(p, a.steps, "/actions/")
}

// refuseWaits reports waits inside the for_each: a run pauses as a whole, not per item.
func (a *forEach) refuseWaits(p *Prep, steps []*step, ptr string) {
	for _, st := range steps {
		here := ptr + strings.ReplaceAll(st.path, ".", "/")
		switch x := st.action.(type) {
		case *wait:
			p.Errorf(here, "a wait cannot be inside a for_each: put it before or after the for_each")
		case *branch:
			a.refuseWaits(p, x.then, ptr)
			a.refuseWaits(p, x.els, ptr)
		}
	}
}

func (a *forEach) prepareOver(p *Prep) {
	var name string
	if err := json.Unmarshal(a.Over, &name); err == nil {
		a.prepareRelation(p, name)
		return
	}
	var q overQuery
	dec := json.NewDecoder(strings.NewReader(string(a.Over)))
	dec.DisallowUnknownFields()
	if len(a.Over) == 0 || dec.Decode(&q) != nil || q.Object == "" {
		p.Errorf("/over", "over must be a relation field (\"contacts\"), a back-relation (\"deals.company\") or {\"object\": …, \"filter\": …}")
		return
	}
	t, ok := p.Registry.Object(q.Object)
	if !ok {
		p.Errorf("/over/object", "unknown object %q (known: %s)", q.Object, strings.Join(p.Registry.ObjectNames(), ", "))
		return
	}
	a.item, a.filter = t, q.Filter
	a.params = map[string]*Value{}
	for _, k := range slices.Sorted(maps.Keys(q.Params)) {
		if !identRe.MatchString(k) {
			p.Errorf("/over/params/"+k, "a parameter name is letters, digits and _, starting with a letter")
			continue
		}
		a.params[k] = p.Value("/over/params/"+k, q.Params[k], nil)
	}
	dummy := dbx.Params{}
	for _, m := range placeholderRe.FindAllStringSubmatch(q.Filter, -1) {
		if _, ok := q.Params[m[1]]; !ok {
			p.Errorf("/over/filter", "{:%s} has no value in params", m[1])
			return
		}
		dummy[m[1]] = ""
	}
	// The filter is checked the way the run will use it: fields, operators, no hidden fields.
	if strings.TrimSpace(q.Filter) != "" {
		if err := checkReadFilter(p.Engine.app, p.Registry, t.Name, q.Filter, ""); err != nil {
			p.Errorf("/over/filter", "%v", err)
		} else if err := checkFilterQuery(p.Engine.app, t.Name, q.Filter, "", dummy); err != nil {
			p.Errorf("/over/filter", "%v", err)
		}
	}
}

var identRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func (a *forEach) prepareRelation(p *Prep, name string) {
	if object, field, ok := strings.Cut(name, "."); ok {
		t, ok := p.Registry.Object(object)
		if !ok {
			p.Errorf("/over", "unknown object %q in %q (known: %s)", object, name, strings.Join(p.Registry.ObjectNames(), ", "))
			return
		}
		f := t.Field(field)
		if f == nil || f.Type != schemas.TypeRelation || f.Target != p.Object.Name {
			p.Errorf("/over", "%s has no relation field %q pointing at %s%s", t.Name, field, p.Object.Name, relationHint(linkFields(t, p.Object)))
			return
		}
		a.item, a.back = t, f
		return
	}
	f := p.Object.Field(name)
	if f == nil || f.Type != schemas.TypeRelation {
		var rels []string
		for _, x := range p.Object.Fields {
			if x.Type == schemas.TypeRelation {
				rels = append(rels, x.Name)
			}
		}
		p.Errorf("/over", "%s has no relation field %q%s; for records pointing at it write \"object.field\"", p.Object.Name, name, relationHint(rels))
		return
	}
	t, ok := p.Registry.Object(f.Target)
	if !ok {
		p.Errorf("/over", "relation %q points at %s, which is not a CRM object", name, f.Target)
		return
	}
	a.item, a.field = t, f
}

func relationHint(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (it has " + strings.Join(names, ", ") + ")"
}

func (a *forEach) Run(*RunContext) (any, error) { return nil, errFlow }

// forEachAfter is the parameter of the id the next page starts after.
const forEachAfter = "relata_after"

func (a *forEach) pageFilter() string {
	after := "id > {:" + forEachAfter + "}"
	switch {
	case a.back != nil:
		// field.id reaches single and multiple relations alike (a bare multiple relation
		// field does not match with ?=)
		return a.back.Name + ".id ?= {:relata_record} && " + after
	case strings.TrimSpace(a.filter) != "":
		return "(" + a.filter + ") && " + after
	}
	return after
}

// describe names what the for_each goes over, for step outputs.
func (a *forEach) describe() string {
	switch {
	case a.field != nil:
		return "record." + a.field.Name
	case a.back != nil:
		return a.item.Name + "." + a.back.Name
	}
	return a.item.Name
}

// each calls fn with the items, in id order, at most limit of them; it returns how many it read.
func (a *forEach) each(rc *RunContext, limit int, fn func(*core.Record) error) (int, error) {
	n := 0
	// A dry run reads in its transaction, holding the writer: its reads stop at its end.
	ctx := context.Background()
	if !rc.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, rc.deadline)
		defer cancel()
	}
	overtime := func(err error) error {
		if msg := rc.overtime(); msg != "" && ctx.Err() != nil {
			return Permanent(errors.New(msg))
		}
		return err
	}
	if a.field != nil {
		rec, err := rc.Record()
		if err != nil {
			return 0, err
		}
		ids := slices.Sorted(slices.Values(rec.GetStringSlice(a.field.Name)))
		coll, err := rc.App.FindCachedCollectionByNameOrId(a.item.Name)
		if err != nil {
			return 0, Permanent(err)
		}
		for len(ids) > 0 && n < limit {
			chunk := ids[:min(len(ids), forEachPage)]
			ids = ids[len(chunk):]
			q, err := schemas.ListQuery(rc.App, coll, rc.Caller())
			if err != nil {
				return n, Permanent(fmt.Errorf("over %s: %w", a.describe(), err))
			}
			in := make([]any, len(chunk))
			for i, id := range chunk {
				in[i] = id
			}
			var recs []*core.Record
			if err := q.AndWhere(dbx.In(coll.Name+".id", in...)).OrderBy(coll.Name + ".id").WithContext(ctx).All(&recs); err != nil {
				return n, overtime(err)
			}
			for _, r := range recs {
				if n == limit {
					break
				}
				n++
				if err := fn(r); err != nil {
					return n, err
				}
			}
		}
		return n, nil
	}
	if a.filter != "" {
		if err := checkReadFilter(rc.App, rc.Engine.reg, a.item.Name, a.filter, ""); err != nil {
			return 0, Permanent(fmt.Errorf("over %s: %w", a.describe(), err))
		}
	}
	params := dbx.Params{forEachAfter: "", "relata_record": rc.RecordID}
	for k, v := range a.params {
		x, err := v.Eval(rc.Input)
		if err != nil {
			return 0, Permanent(fmt.Errorf("over: params.%s: %w", k, err))
		}
		params[k] = x
	}
	for n < limit {
		if msg := rc.overtime(); msg != "" {
			return n, Permanent(errors.New(msg))
		}
		recs, err := schemas.FindContext(ctx, rc.App, rc.Caller(), schemas.Query{Object: a.item.Name, Filter: a.pageFilter(),
			Sort: "id", Limit: min(forEachPage, limit-n), Params: params})
		if err != nil {
			return n, overtime(Permanent(fmt.Errorf("over %s: %w", a.describe(), err)))
		}
		for _, r := range recs {
			n++
			if err := fn(r); err != nil {
				return n, err
			}
			params[forEachAfter] = r.Id
		}
		if len(recs) < forEachPage {
			break
		}
	}
	return n, nil
}

// itemSteps returns the for_each's steps for one item: the same actions, at the item's paths.
func itemSteps(steps []*step, prefix string) []*step {
	out := make([]*step, len(steps))
	for i, st := range steps {
		c := *st
		c.path = prefix + st.path
		if b, ok := st.action.(*branch); ok {
			nb := *b
			nb.then = itemSteps(b.then, prefix)
			nb.els = itemSteps(b.els, prefix)
			c.action = &nb
		}
		out[i] = &c
	}
	return out
}

// itemContext is rc inside a for_each, for item rec.
func itemContext(rc *RunContext, item *schemas.Object, rec *core.Record) *RunContext {
	ic := *rc
	ic.Item, ic.ItemID = item, rec.Id
	ic.Input.Item = snapshot(rec)
	return &ic
}

func (a *forEach) itemPrefix(st *step, id string) string { return st.path + ".item:" + id + "." }

// forEach executes a for_each step: counts the items on its first attempt, then runs the
// nested steps of every item whose steps are not done yet.
func (x *executor) forEach(st *step, a *forEach, prev *core.Record) error {
	rc := *x.rc
	rc.App = x.e.app
	rc.StepKey = x.run.Id + ":" + st.path
	if prev == nil || prev.GetString("status") != "running" {
		n, err := a.each(&rc, a.Max+1, func(*core.Record) error { return nil })
		if err == nil && n > a.Max {
			err = Permanent(fmt.Errorf("over %s: more than %d items (its max); nothing was done", a.describe(), a.Max))
		}
		if err != nil {
			return x.fail(st, err)
		}
		if err := x.record(x.e.app, st, prev, "running", map[string]any{"over": a.describe(), "items": n}, "", true); err != nil {
			return err
		}
	}
	outer := x.rc
	defer func() { x.rc = outer }()
	n, err := a.each(&rc, a.Max, func(item *core.Record) error {
		x.rc = itemContext(outer, a.item, item)
		if err := x.steps(itemSteps(a.steps, a.itemPrefix(st, item.Id))); err != nil {
			return &itemError{err} // recorded by the item's step
		}
		return nil
	})
	x.rc = outer
	var ie *itemError
	switch {
	case errors.As(err, &ie):
		return ie.err
	case err != nil:
		return x.fail(st, err)
	}
	return x.record(x.e.app, st, x.stepRec(st), "succeeded", map[string]any{"over": a.describe(), "items": n}, "", false)
}

// itemError is a failure of an item's step, already recorded on that step.
type itemError struct{ err error }

func (e *itemError) Error() string { return e.err.Error() }
func (e *itemError) Unwrap() error { return e.err }

// dryRun lists what the for_each would do for every item: its own step, then each item's
// steps at their paths. It returns why the run would fail, or "".
func (a *forEach) dryRun(rc *RunContext, st *step, out *[]StepReport) string {
	r := StepReport{Path: st.path, Action: st.kind, Name: st.name}
	n, err := a.each(rc, a.Max+1, func(*core.Record) error { return nil })
	if err == nil && n > a.Max {
		err = fmt.Errorf("over %s: more than %d items (its max); nothing would be done", a.describe(), a.Max)
	}
	if err != nil {
		r.Error = err.Error()
		*out = append(*out, r)
		return fmt.Sprintf("step %s (%s): %v", st.path, st.kind, err)
	}
	r.Output = map[string]any{"over": a.describe(), "items": n}
	*out = append(*out, r)
	msg := ""
	_, _ = a.each(rc, a.Max, func(item *core.Record) error {
		msg = dryRunSteps(itemContext(rc, a.item, item), itemSteps(a.steps, a.itemPrefix(st, item.Id)), out)
		if msg != "" {
			return errDryRun
		}
		return nil
	})
	return msg
}
