package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/condition"
)

// Report is the result of a dry run: what a workflow would do for one record.
type Report struct {
	Workflow string `json:"workflow"`
	Record   string `json:"record,omitempty"`
	// Triggered says whether the trigger fits the event (always true for an existing record
	// tested without a change).
	Triggered bool `json:"triggered"`
	// ConditionMet is false when the condition stops the run; no step is then listed.
	ConditionMet bool         `json:"conditionMet"`
	Steps        []StepReport `json:"steps"`
	// Error is why the run would fail, if it would.
	Error string `json:"error,omitempty"`
}

// StepReport is one step of a dry run.
type StepReport struct {
	Path   string `json:"path"`
	Action string `json:"action"`
	Name   string `json:"name,omitempty"`
	// Output is what the step produced (the records it would create, the email it would
	// queue) or, for calls leaving Relata, a description of the call.
	Output any    `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
}

var errDryRun = errors.New("dry run")

// DryRun shows what w would do for a record, with no side effect: database actions run in a
// transaction that is rolled back, external calls are described instead of made, waits are
// skipped. rec is the record as it is now (unsaved values, or a stored record with fields
// overridden, are saved inside the rolled back transaction); old, when not nil, are its values
// before the change being simulated (for update triggers).
func (e *Engine) DryRun(w *Workflow, rec *core.Record, old map[string]any, actor *core.Record) (*Report, error) {
	rep := &Report{Workflow: w.Def.Name, Steps: []StepReport{}}
	in := condition.Input{Now: e.cfg.Now(), User: userOf(actor), Event: "test"}
	recordID := ""
	if rec != nil {
		recordID, rep.Record = rec.Id, rec.Id
		in.Record = snapshot(rec)
		in.Old = in.Record
		in.Facts = newFacts(e.app, w.Object.Name, in.Record, time.Time{})
		if old != nil {
			in.Old = old
			in.Changed = changedFields(old, in.Record)
		}
	}
	rep.Triggered = old == nil || w.matches(in)
	rep.ConditionMet = true
	if w.cond != nil {
		ok, err := w.cond.Eval(in)
		if err != nil {
			rep.ConditionMet = false
			rep.Error = "condition: " + err.Error()
			return rep, nil
		}
		rep.ConditionMet = ok
	}
	if !rep.Triggered || !rep.ConditionMet {
		return rep, nil
	}
	rc := &RunContext{Engine: e, Object: w.Object, RecordID: recordID, Input: in, Actor: actor, DryRun: true,
		deadline: time.Now().Add(e.cfg.DryRunTimeout)}
	if w.Object == noObject {
		rc.Object = nil
	}
	if actor == nil && w.runAs != "" {
		if u, err := e.app.FindRecordById("users", w.runAs); err == nil {
			rc.Actor, rc.runAs = u, w.Def.RunAs
		}
	}
	rc.Ctx = withRun(context.Background(), e.cfg.MaxDepth, "", "") // writes in a dry run trigger nothing (nor count in a chain)
	err := e.app.RunInTransaction(func(tx core.App) error {
		rc.App = tx
		if rec != nil && (rec.IsNew() || len(changedFields(rec.Original().FieldsData(), rec.FieldsData())) > 0) {
			// A record given as values, or an existing one with fields overridden, exists only
			// inside the rolled back transaction, so that actions on "the record" can be tried too.
			if err := tx.SaveWithContext(rc.Ctx, rec); err != nil {
				rep.Error = "the test record is not valid: " + err.Error()
				return errDryRun
			}
			rc.RecordID = rec.Id
		}
		rep.Error = dryRunSteps(rc, w.steps, &rep.Steps)
		return errDryRun
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	return rep, nil
}

func dryRunSteps(rc *RunContext, steps []*step, out *[]StepReport) string {
	for _, st := range steps {
		if msg := rc.overtime(); msg != "" {
			return msg
		}
		r := StepReport{Path: st.path, Action: st.kind, Name: st.name}
		sc := *rc
		sc.StepKey = "dry-run:" + st.path
		if a, ok := st.action.(*forEach); ok {
			if msg := a.dryRun(&sc, st, out); msg != "" {
				return msg
			}
			continue
		}
		var (
			res  any
			err  error
			next []*step
		)
		switch a := st.action.(type) {
		case *branch:
			var ok bool
			ok, err = a.cond.Eval(rc.Input)
			res, next = map[string]any{"branch": "else"}, a.els
			if ok {
				res, next = map[string]any{"branch": "then"}, a.then
			}
		case *wait:
			res = map[string]any{"wait": a.For + a.Until, "note": "a real run pauses here; the dry run goes on"}
			if a.For != "" {
				d, _ := ParseDuration(a.For)
				res = map[string]any{"until": rc.Input.Now.Add(d).UTC().Format(time.RFC3339), "note": "a real run pauses here; the dry run goes on"}
			}
		case External:
			res, err = a.Describe(&sc)
		default:
			res, err = st.action.Run(&sc)
		}
		r.Output = res
		if err != nil {
			r.Error = err.Error()
			*out = append(*out, r)
			if msg := rc.overtime(); msg != "" {
				return msg // a script cut short by the dry run's end
			}
			return fmt.Sprintf("step %s (%s): %v", st.path, st.kind, err)
		}
		*out = append(*out, r)
		if next != nil {
			if msg := dryRunSteps(rc, next, out); msg != "" {
				return msg
			}
		}
	}
	return ""
}
