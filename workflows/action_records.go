package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

func init() {
	registerAction("create_record", func() Action { return new(createRecord) })
	registerAction("update_record", func() Action { return new(updateRecord) })
	registerAction("change_stage", func() Action { return new(changeStage) })
}

var (
	_ Action = (*createRecord)(nil)
	_ Action = (*updateRecord)(nil)
	_ Action = (*changeStage)(nil)
)

// fieldValues compiles a {"field": value} map for object target.
func fieldValues(p *Prep, target *schemas.Object, raw map[string]any) map[string]*Value {
	sub := *p
	sub.valueObj = target // a stage or option is the target's, not the workflow object's
	p = &sub
	out := make(map[string]*Value, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		f := target.Field(name)
		if f == nil && strings.HasSuffix(name, schemas.CurrencySuffix) {
			if cf := target.Field(strings.TrimSuffix(name, schemas.CurrencySuffix)); cf != nil && cf.Type == schemas.TypeCurrency {
				out[name] = p.Value("/values/"+name, raw[name], nil)
				continue
			}
		}
		if f == nil {
			p.Errorf("/values/"+name, "%s has no field %q", target.Name, name)
			continue
		}
		out[name] = p.Value("/values/"+name, raw[name], f)
	}
	return out
}

// evalValues evaluates compiled values for one run.
func evalValues(rc *RunContext, vals map[string]*Value) (map[string]any, error) {
	out := make(map[string]any, len(vals))
	for name, v := range vals {
		x, err := v.Eval(rc.Input)
		if err != nil {
			return nil, Permanent(fmt.Errorf("value of %s: %w", name, err))
		}
		out[name] = x
	}
	return out, nil
}

// linkFields names the relation fields of target that point at object.
func linkFields(target, object *schemas.Object) []string {
	if object == nil {
		return nil
	}
	var out []string
	for _, f := range target.Fields {
		if f.Type == schemas.TypeRelation && f.Target == object.Name {
			out = append(out, f.Name)
		}
	}
	return out
}

// createRecord creates a record of any object.
//
//	{"type": "create_record", "object": "projects", "values": {"title": "=record.name"}, "link": true}
type createRecord struct {
	Object string         `json:"object"`
	Values map[string]any `json:"values"`
	// Link sets the new record's relation fields that point at the workflow's object to the
	// triggering record.
	Link bool `json:"link"`

	target *schemas.Object
	vals   map[string]*Value
}

func (a *createRecord) Prepare(p *Prep) {
	t, ok := p.Registry.Object(a.Object)
	if !ok {
		p.Errorf("/object", "unknown object %q", a.Object)
		return
	}
	a.target = t
	a.vals = fieldValues(p, t, a.Values)
	if a.Link && len(linkFields(t, p.Object)) == 0 {
		p.Errorf("/link", "%s has no relation field to %s to link", t.Name, p.Object.Name)
	}
}

func (a *createRecord) Run(rc *RunContext) (any, error) {
	vals, err := evalValues(rc, a.vals)
	if err != nil {
		return nil, err
	}
	if a.Link && rc.RecordID != "" {
		for _, f := range linkFields(a.target, rc.Object) {
			if _, set := vals[f]; !set {
				vals[f] = rc.RecordID
			}
		}
	}
	rec, err := newRecord(rc, a.target.Name, vals)
	if err != nil {
		return nil, err
	}
	return map[string]any{"object": a.target.Name, "id": rec.Id, "values": vals}, nil
}

func newRecord(rc *RunContext, object string, vals map[string]any) (*core.Record, error) {
	coll, err := rc.App.FindCachedCollectionByNameOrId(object)
	if err != nil {
		return nil, Permanent(fmt.Errorf("object %s: %w", object, err))
	}
	rec := core.NewRecord(coll)
	rec.Id = schemas.OrderedID() // see schemas.OrderedID; a value of "id" in vals wins
	for k, v := range vals {
		rec.Set(k, v)
	}
	if err := rc.Create(rec, vals); err != nil {
		return nil, err
	}
	return rec, nil
}

// updateRecord changes fields of the triggering record, of a record it links to, or of the
// current item of a for_each.
//
//	{"type": "update_record", "values": {"lifecycle_stage": "customer"}}
//	{"type": "update_record", "target": "company", "values": {"tags": ["customer"]}}
//	{"type": "update_record", "target": "item", "values": {"status": "closed"}}
type updateRecord struct {
	// Target is "" for the triggering record, "item" for a for_each's item, or the name of
	// one of the record's single relation fields.
	Target string         `json:"target"`
	Values map[string]any `json:"values"`

	object *schemas.Object
	item   bool
	vals   map[string]*Value
}

func (a *updateRecord) Prepare(p *Prep) {
	a.object = p.Object
	if a.Target == "item" && p.Item != nil {
		a.object, a.item = p.Item, true
	} else if a.Target == "item" && p.Object.Field("item") == nil {
		p.Errorf("/target", "target \"item\" is the current item of a for_each; this action is not inside one")
		return
	} else if a.Target != "" {
		f := p.Object.Field(a.Target)
		switch {
		case f == nil:
			p.Errorf("/target", "%s has no field %q", p.Object.Name, a.Target)
			return
		case f.Type != schemas.TypeRelation || f.Multiple:
			p.Errorf("/target", "target %q must be a single relation field, not %s", a.Target, f.Type)
			return
		}
		t, ok := p.Registry.Object(f.Target)
		if !ok {
			p.Errorf("/target", "relation %q points at %s, which is not a CRM object", a.Target, f.Target)
			return
		}
		a.object = t
	}
	a.vals = fieldValues(p, a.object, a.Values)
}

func (a *updateRecord) Run(rc *RunContext) (any, error) {
	var rec *core.Record
	var err error
	if a.item {
		rec, err = rc.ItemRecord()
	} else {
		rec, err = rc.Record()
	}
	if err != nil {
		return nil, err
	}
	if a.Target != "" && !a.item {
		id := rec.GetString(a.Target)
		if id == "" {
			return map[string]any{"skipped": a.Target + " is empty"}, nil
		}
		if rec, err = rc.App.FindRecordById(a.object.Name, id); err != nil {
			return nil, Permanent(fmt.Errorf("%s %s no longer exists", a.object.Name, id))
		}
	}
	vals, err := evalValues(rc, a.vals)
	if err != nil {
		return nil, err
	}
	for k, v := range vals {
		rec.Set(k, v)
	}
	if err := rc.Update(rec, vals); err != nil {
		return nil, err
	}
	return map[string]any{"object": a.object.Name, "id": rec.Id, "values": vals}, nil
}

// changeStage moves the triggering record to another stage of its pipeline.
//
//	{"type": "change_stage", "stage": "proposal"}
type changeStage struct {
	Stage string `json:"stage"`
	// Field is the stage field; default: the object's first stage field.
	Field string `json:"field"`

	field *schemas.Field
}

func (a *changeStage) Prepare(p *Prep) {
	if a.Field != "" {
		a.field = p.Object.Field(a.Field)
	} else {
		a.field = p.Object.StageField()
	}
	if a.field == nil || a.field.Type != schemas.TypeStage {
		p.Errorf("/field", "%s has no stage field %q", p.Object.Name, a.Field)
		return
	}
	// Any stage of a pipeline the field's records may follow; the record hook refuses, at run
	// time, a stage outside the record's own pipeline.
	var names, stages []string
	for _, pipe := range p.Object.StagePipelines(a.field) {
		if pipe.Stage(a.Stage) != nil {
			return
		}
		names = append(names, pipe.Name)
		stages = append(stages, pipe.StageNames()...)
	}
	p.Errorf("/stage", "stage %q is not in pipeline %s (%s)", a.Stage, strings.Join(names, " or "), strings.Join(stages, ", "))
}

func (a *changeStage) Run(rc *RunContext) (any, error) {
	rec, err := rc.Record()
	if err != nil {
		return nil, err
	}
	from := rec.GetString(a.field.Name)
	if from == a.Stage {
		return map[string]any{"stage": a.Stage, "unchanged": true}, nil
	}
	rec.Set(a.field.Name, a.Stage)
	if err := rc.Update(rec, map[string]any{a.field.Name: a.Stage}); err != nil {
		return nil, err
	}
	return map[string]any{"from": from, "to": a.Stage}, nil
}
