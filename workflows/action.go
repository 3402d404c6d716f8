package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/condition"
)

// Action is one step type of a workflow. Its JSON settings are decoded into it, then Prepare
// checks them against the workflow's object and compiles their expressions (at save time),
// then Run performs it for each run.
type Action interface {
	// Prepare checks the settings and compiles expressions; problems go to p.Errorf.
	Prepare(p *Prep)
	// Run performs the action. Database actions write through rc.App, which is the step's
	// transaction: the write commits together with the step's record, or not at all.
	Run(rc *RunContext) (any, error)
}

// External is implemented by actions whose effect leaves the database (HTTP calls). They run
// outside the step transaction, at least once: a retry after a crash repeats the call with
// the same idempotency key (rc.StepKey). In a dry run they are described, not run.
type External interface {
	Action
	// Describe tells what Run would do, without doing it.
	Describe(rc *RunContext) (any, error)
}

var actionTypes = map[string]func() Action{}

// registerAction adds an action type; it panics on a duplicate name (a programming error).
func registerAction(name string, f func() Action) {
	if _, dup := actionTypes[name]; dup {
		panic("workflows: action type registered twice: " + name)
	}
	actionTypes[name] = f
}

// Prep is what an action's Prepare works with.
type Prep struct {
	// Object is the workflow's object (an empty object for schedules without one).
	Object *schemas.Object
	// Registry is the live object model.
	Registry *schemas.Registry
	// Engine is the engine the workflow is compiled for.
	Engine *Engine
	// Item is the object of the items inside a for_each (expressions see item); nil outside.
	Item *schemas.Object
	// valueObj is the object literal values are checked against, when not Object.
	valueObj *schemas.Object
	pointer  string
	file     string
	errs     *schemas.Errors
}

// Errorf records a problem at the action's pointer plus sub ("/values/due").
func (p *Prep) Errorf(sub, format string, args ...any) {
	*p.errs = append(*p.errs, &schemas.Error{File: p.file, Pointer: p.pointer + sub, Message: fmt.Sprintf(format, args...)})
}

// Value compiles a value written in a definition: a string starting with "=" is an
// expression evaluated per run; anything else is used as it is. When field is given, the value
// must fit it.
func (p *Prep) Value(sub string, raw any, field *schemas.Field) *Value {
	v := &Value{literal: raw}
	s, ok := raw.(string)
	if !ok || !strings.HasPrefix(s, "=") {
		if field != nil && raw != nil {
			if t, ok := schemas.LookupFieldType(field.Type); ok {
				obj := p.Object
				if p.valueObj != nil {
					obj = p.valueObj
				}
				if err := t.CheckValue(obj, field, raw); err != nil && !isRelativeDate(field, raw) {
					p.Errorf(sub, "value for %s %s", field.Name, err)
				}
			}
		}
		if field != nil && (field.Type == schemas.TypeDate || field.Type == schemas.TypeDateTime) {
			v.date = true
		}
		return v
	}
	prog, err := condition.CompileValueFor(p.Object, p.Item, strings.TrimPrefix(s, "="), field)
	if err != nil {
		p.Errorf(sub, "expression: %s", exprMessage(err))
		return v
	}
	v.prog = prog
	return v
}

// Condition compiles a boolean expression.
func (p *Prep) Condition(sub, src string) *condition.Program {
	prog, err := condition.CompileFor(p.Object, p.Item, src)
	if err != nil {
		p.Errorf(sub, "condition: %s", exprMessage(err))
		return nil
	}
	return prog
}

func exprMessage(err error) string {
	var ce *condition.Error
	if errors.As(err, &ce) {
		return fmt.Sprintf("%s (line %d, column %d)\n%s", ce.Message, ce.Line, ce.Column, ce.Snippet)
	}
	return err.Error()
}

func isRelativeDate(f *schemas.Field, raw any) bool {
	s, ok := raw.(string)
	if !ok || (f.Type != schemas.TypeDate && f.Type != schemas.TypeDateTime) {
		return false
	}
	_, err := schemas.ResolveDate(s, time.Now())
	return err == nil
}

// Value is a literal or an expression from a definition.
type Value struct {
	literal any
	prog    *condition.Program
	date    bool
}

// Eval returns the value for one run.
func (v *Value) Eval(in condition.Input) (any, error) {
	if v == nil {
		return nil, nil
	}
	if v.prog != nil {
		return v.prog.Run(in)
	}
	if s, ok := v.literal.(string); ok && v.date {
		d, err := schemas.ResolveDate(s, in.Now)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	return v.literal, nil
}

// RunContext is what an action's Run works with.
type RunContext struct {
	// Ctx carries the run's depth and actor to the record hooks of the writes it makes.
	Ctx context.Context
	// App is the step's transaction (the app itself for External actions).
	App    core.App
	Engine *Engine
	// Run is the workflow_runs record; nil in a dry run of an unsaved definition.
	Run *core.Record
	// Object and RecordID name the triggering record ("" for schedules without an object).
	Object   *schemas.Object
	RecordID string
	// Input is what expressions see: the record as it was when the trigger fired, etc.
	Input condition.Input
	// Item and ItemID name the current item inside a for_each (Input.Item holds its values).
	Item   *schemas.Object
	ItemID string
	// Actor is the run-as user; nil means the system.
	Actor *core.Record
	// runAs is the run-as user as the definition names them (an email or an id), for messages.
	runAs string
	// StepKey identifies this step of this run, for idempotency keys.
	StepKey string
	// DryRun is set when nothing may leave the (rolled back) transaction.
	DryRun bool
	// deadline, in a dry run, is when it stops (Config.DryRunTimeout); zero otherwise.
	deadline time.Time
	// group collects the writes of a group of runs (RunBatch) made at its end; nil otherwise.
	group *groupWrites
}

// Record loads the triggering record as it is now.
func (rc *RunContext) Record() (*core.Record, error) {
	return rc.load(rc.Object, rc.RecordID, "this workflow has no triggering record")
}

// ItemRecord loads the current item of a for_each as it is now.
func (rc *RunContext) ItemRecord() (*core.Record, error) {
	return rc.load(rc.Item, rc.ItemID, "not inside a for_each")
}

func (rc *RunContext) load(obj *schemas.Object, id, none string) (*core.Record, error) {
	if obj == nil || id == "" {
		return nil, Permanent(errors.New(none))
	}
	rec, err := rc.App.FindRecordById(obj.Name, id)
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s %s no longer exists", obj.Name, id))
	}
	return rec, nil
}

// overtime reports why a dry run must stop now, or "" while it may go on.
func (rc *RunContext) overtime() string {
	if rc.deadline.IsZero() || time.Now().Before(rc.deadline) {
		return ""
	}
	return fmt.Sprintf("the dry run stopped after %v: it holds the database's writer while it runs, so every save waits for it; "+
		"test fewer items (a lower max, a narrower filter) or shorter scripts", rc.Engine.cfg.DryRunTimeout)
}

// Caller is who the run reads for: the run-as user, or [schemas.System] without one.
func (rc *RunContext) Caller() schemas.Caller {
	if rc.Actor == nil {
		return schemas.System
	}
	return schemas.User(rc.Actor)
}

// actorName names the run-as user in messages as the definition names them ("runAs", which
// its author wrote), else by their email only when they made it visible, else by id. Errors
// are kept in the run history and shown by dry runs to every manager: the address of a user
// who keeps it hidden must not appear in them.
func (rc *RunContext) actorName() string {
	switch {
	case rc.Actor == nil:
		return "the system"
	case rc.runAs != "":
		return rc.runAs
	case schemas.System.MayReadEmail(rc.Actor):
		return rc.Actor.Email()
	}
	return "user " + rc.Actor.Id
}

// CanView reports whether the run's caller may view rec (see [schemas.Caller.CanView]).
func (rc *RunContext) CanView(rec *core.Record) (bool, error) {
	return rc.Caller().CanView(rc.App, rec)
}

// Create saves a new record after checking that the run-as user may create it and may view
// every record it links.
func (rc *RunContext) Create(rec *core.Record, body map[string]any) error {
	if err := schemas.CheckLinks(rc.App, rec, rc.Caller()); err != nil {
		return Permanent(fmt.Errorf("create %s: %w", rec.Collection().Name, err))
	}
	if err := rc.App.SaveWithContext(rc.Ctx, rec); err != nil {
		return Permanent(fmt.Errorf("create %s: %w", rec.Collection().Name, err))
	}
	return rc.check(rec, rec.Collection().CreateRule, "create", body)
}

// Update saves changes to a record after checking that the run-as user may update it and may
// view every record it newly links.
func (rc *RunContext) Update(rec *core.Record, body map[string]any) error {
	if err := rc.check(rec, rec.Collection().UpdateRule, "update", body); err != nil {
		return err
	}
	if err := schemas.CheckLinks(rc.App, rec, rc.Caller()); err != nil {
		return Permanent(fmt.Errorf("update %s %s: %w", rec.Collection().Name, rec.Id, err))
	}
	if err := rc.App.SaveWithContext(rc.Ctx, rec); err != nil {
		return Permanent(fmt.Errorf("update %s %s: %w", rec.Collection().Name, rec.Id, err))
	}
	return nil
}

// ErrForbidden is wrapped when the run-as user may not do what an action asks.
var ErrForbidden = errors.New("not allowed")

// check applies a collection API rule for the run-as user, as the REST API would: Go-level
// saves bypass rules, so workflow actions must check them themselves.
func (rc *RunContext) check(rec *core.Record, rule *string, what string, body map[string]any) error {
	if rc.Actor == nil {
		return nil
	}
	info := &core.RequestInfo{Auth: rc.Actor, Body: body, Method: "POST", Context: core.RequestInfoContextDefault}
	ok, err := rc.App.CanAccessRecord(rec, info, rule)
	if err != nil {
		return fmt.Errorf("check %s rule of %s: %w", what, rec.Collection().Name, err)
	}
	if !ok {
		return Permanent(fmt.Errorf("%s may not %s %s %s: %w", rc.actorName(), what, rec.Collection().Name, rec.Id, ErrForbidden))
	}
	return nil
}

// decodeAction builds an action from its JSON settings.
func decodeAction(raw json.RawMessage) (string, Action, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", nil, err
	}
	f, ok := actionTypes[head.Type]
	if !ok {
		return head.Type, nil, fmt.Errorf("unknown action type %q", head.Type)
	}
	a := f()
	if err := json.Unmarshal(raw, a); err != nil {
		return head.Type, nil, err
	}
	return head.Type, a, nil
}

// PermanentError marks an error that retrying cannot fix (bad data, missing record, no
// permission, a script that ran out of time): the run fails at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a [PermanentError]; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	var pe *PermanentError
	if errors.As(err, &pe) {
		return err
	}
	return &PermanentError{Err: err}
}

func isPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}
