package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/tools/cron"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/condition"
)

// Workflow is a checked, compiled workflow ready to run.
type Workflow struct {
	// ID is the workflows record id ("" for a definition that is not stored).
	ID        string
	Def       *Definition
	Object    *schemas.Object
	EnabledAt time.Time

	cond     *condition.Program
	stopIf   *condition.Program
	segment  string // segment id of segment_entered/segment_left triggers
	steps    []*step
	schedule *cron.Schedule
	offset   time.Duration // date triggers
	runAs    string        // user id
	grouped  bool          // fresh runs may execute in a group transaction (RunBatch)
}

// step is one compiled action at a place of the workflow.
type step struct {
	path   string // "0", "2.then.1"
	kind   string
	name   string
	action Action
}

// noObject is the object of workflows that have none (schedules): expressions see no fields.
var noObject = &schemas.Object{Name: "none", TitleField: "id"}

// Compile checks a definition against the live object model and compiles every expression.
// Problems are returned as [schemas.Errors] naming file (the file name or the workflow's
// name), JSON pointer and reason.
func (e *Engine) Compile(file string, d *Definition) (*Workflow, error) {
	var errs schemas.Errors
	add := func(ptr, format string, args ...any) {
		errs = append(errs, &schemas.Error{File: file, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	w := &Workflow{Def: d, Object: noObject}
	switch {
	case d.Object != "":
		obj, ok := e.reg.Object(d.Object)
		if !ok {
			add("/object", "unknown object %q (known: %s)", d.Object, strings.Join(e.reg.ObjectNames(), ", "))
			return nil, errs.Err()
		}
		w.Object = obj
	case d.Trigger.Type != TriggerSchedule:
		add("/object", "a %s trigger needs an object", d.Trigger.Type)
		return nil, errs.Err()
	}
	e.compileTrigger(w, add)
	if d.Condition != "" {
		prog, err := condition.Compile(w.Object, d.Condition)
		if err != nil {
			add("/condition", "%s", exprMessage(err))
		}
		w.cond = prog
		e.checkSegments(prog, "/condition", add)
	}
	if d.StopIf != "" {
		prog, err := condition.Compile(w.Object, d.StopIf)
		if err != nil {
			add("/stopIf", "%s", exprMessage(err))
		}
		w.stopIf = prog
		e.checkSegments(prog, "/stopIf", add)
	}
	if d.RunAs != "" {
		// By email only, as the definition's schema says: a user id would let whoever writes
		// workflows (every manager lists users' ids) run as a colleague whose address they do
		// not know, and so read it where she may (her own records' owner email in a template).
		u, err := e.app.FindAuthRecordByEmail(schemas.UsersCollection, d.RunAs)
		if err != nil {
			add("/runAs", "%q is not the email of a CRM user", d.RunAs)
		} else {
			w.runAs = u.Id
		}
	}
	prep := &Prep{Object: w.Object, Registry: e.reg, Engine: e, file: file, errs: &errs}
	w.steps = compileSteps(prep, d.Actions, "/actions", "")
	if len(d.Actions) == 0 {
		add("/actions", "a workflow needs at least one action")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	w.grouped = groupable(w.steps)
	return w, nil
}

func compileSteps(p *Prep, raws []json.RawMessage, ptr, prefix string) []*step {
	var out []*step
	for i, raw := range raws {
		path := fmt.Sprintf("%s%d", prefix, i)
		here := fmt.Sprintf("%s/%d", ptr, i)
		kind, a, err := decodeAction(raw)
		if err != nil {
			*p.errs = append(*p.errs, &schemas.Error{File: p.file, Pointer: here, Message: err.Error()})
			continue
		}
		var head struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(raw, &head)
		sub := *p
		sub.pointer = here
		a.Prepare(&sub)
		if b, ok := a.(*branch); ok {
			b.then = compileSteps(p, b.Then, here+"/then", path+".then.")
			b.els = compileSteps(p, b.Else, here+"/else", path+".else.")
		}
		out = append(out, &step{path: path, kind: kind, name: head.Name, action: a})
	}
	return out
}

func (e *Engine) compileTrigger(w *Workflow, add func(ptr, format string, args ...any)) {
	t := w.Def.Trigger
	obj := w.Object
	fieldOf := func(name string) *schemas.Field {
		f := obj.Field(name)
		if f == nil && name != schemas.FieldCreated && name != schemas.FieldUpdated && name != schemas.FieldLastTouched {
			add("/trigger/field", "%s has no field %q", obj.Name, name)
		}
		return f
	}
	checkValue := func(ptr string, f *schemas.Field, v any) {
		if v == nil || f == nil {
			return
		}
		if ft, ok := schemas.LookupFieldType(f.Type); ok {
			single := *f
			single.Multiple = false
			if err := ft.CheckValue(obj, &single, v); err != nil {
				add(ptr, "%s", err)
			}
		}
	}
	switch t.Type {
	case TriggerFieldChanged:
		f := fieldOf(t.Field)
		checkValue("/trigger/from", f, t.From)
		checkValue("/trigger/to", f, t.To)
	case TriggerStageChanged:
		var f *schemas.Field
		if t.Field != "" {
			f = fieldOf(t.Field)
		} else if f = obj.StageField(); f == nil {
			add("/trigger", "%s has no stage field", obj.Name)
		}
		if f != nil && f.Type != schemas.TypeStage {
			add("/trigger/field", "field %q is a %s field, not a stage field", f.Name, f.Type)
			f = nil
		}
		checkValue("/trigger/from", f, t.From)
		checkValue("/trigger/to", f, t.To)
	case TriggerSchedule:
		s, err := cron.NewSchedule(t.Cron)
		if err != nil {
			add("/trigger/cron", "not a cron schedule (minute hour day month weekday): %v", err)
		}
		w.schedule = s
	case TriggerDate:
		if f := fieldOf(t.Field); f != nil && f.Type != schemas.TypeDate && f.Type != schemas.TypeDateTime {
			add("/trigger/field", "field %q is a %s field, not a date", t.Field, f.Type)
		}
		if t.Offset != "" {
			d, err := ParseDuration(t.Offset)
			if err != nil {
				add("/trigger/offset", "%v", err)
			}
			w.offset = d
		}
	case TriggerSegmentEntered, TriggerSegmentLeft:
		if obj.Name != segments.Object {
			add("/object", "segments hold %s: a %s trigger needs object %q", segments.Object, t.Type, segments.Object)
		}
		id, err := segmentID(e.app, t.Segment)
		if err != nil {
			add("/trigger/segment", "%v", err)
		}
		w.segment = id
	case TriggerDormant:
		if obj.Activity {
			add("/trigger", "activities are not touched by activities; dormant triggers suit companies, contacts, deals")
		}
	}
	if t.Type != TriggerFieldChanged && t.Type != TriggerStageChanged && (t.From != nil || t.To != nil) {
		add("/trigger", "\"from\" and \"to\" apply only to field_changed and stage_changed triggers")
	}
}

// stageField is the field a stage_changed trigger watches.
func (w *Workflow) stageField() string {
	if w.Def.Trigger.Field != "" {
		return w.Def.Trigger.Field
	}
	if f := w.Object.StageField(); f != nil {
		return f.Name
	}
	return ""
}
