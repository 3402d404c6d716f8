package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/sandbox"
)

func init() {
	registerAction("script", func() Action { return new(script) })
}

var _ Action = (*script)(nil)

// script runs JavaScript in the sandbox. It may read the record, set its fields (applied
// when the script ends, as the run-as user), find and create records, and log. It has no
// file system, no network, a time limit and bounded allocations.
//
//	{"type": "script", "source": "if (record.amount > 50000) set('description', 'large deal')"}
type script struct {
	Source string `json:"source"`
	// Timeout replaces the engine's script time limit ("500ms", "2s"), up to
	// [MaxScriptTimeout].
	Timeout string `json:"timeout"`

	timeout time.Duration
}

func (a *script) Prepare(p *Prep) {
	if err := p.Engine.sandbox.Compile(a.Source); err != nil {
		var se *sandbox.SyntaxError
		if errors.As(err, &se) {
			p.Errorf("/source", "line %d, column %d: %s", se.Line, se.Column, se.Message)
			return
		}
		p.Errorf("/source", "%v", err)
	} else {
		checkScriptNames(p, a.Source)
	}
	if a.Timeout != "" {
		d, err := time.ParseDuration(a.Timeout)
		if err != nil || d <= 0 || d > MaxScriptTimeout {
			p.Errorf("/timeout", "must be a duration up to %v, such as 500ms or 5s", MaxScriptTimeout)
		}
		a.timeout = d
	}
}

// checkScriptNames checks the literal object names, fields and filters of the script's find,
// create and update calls against the object model, so that a typo is refused at save with its
// line and column rather than failing a run.
func checkScriptNames(p *Prep, src string) {
	calls, err := sandbox.Calls(src)
	if err != nil {
		return // Compile reported it
	}
	at := func(l *sandbox.Literal, format string, args ...any) {
		p.Errorf("/source", "line %d, column %d: %s", l.Line, l.Column, fmt.Sprintf(format, args...))
	}
	for _, c := range calls {
		obj, ok := p.Registry.Object(c.Object.Value)
		if !ok {
			at(c.Object, "%s: unknown object %q (known: %s)", c.Func, c.Object.Value, strings.Join(p.Registry.ObjectNames(), ", "))
			continue
		}
		for _, f := range c.Fields {
			name := f.Value
			if obj.Field(name) == nil && !(strings.HasSuffix(name, schemas.CurrencySuffix) && obj.Field(strings.TrimSuffix(name, schemas.CurrencySuffix)) != nil) {
				at(&f, "%s: %s has no field %q%s", c.Func, obj.Name, name, suggestField(obj, name))
			}
		}
		if c.Sort != nil {
			// the sort alone, and with the filter: their joins are counted together
			filter := ""
			if c.Filter != nil {
				filter = c.Filter.Value
			}
			if err := checkReadFilter(p.Engine.app, p.Registry, obj.Name, "", c.Sort.Value); err != nil {
				at(c.Sort, "find: %v", err)
			} else if err := checkFilterQuery(p.Engine.app, obj.Name, "", c.Sort.Value, nil); err != nil {
				at(c.Sort, "find: %v", err)
			} else if err := checkReadFilter(p.Engine.app, p.Registry, obj.Name, filter, c.Sort.Value); err != nil && filter != "" {
				if checkReadFilter(p.Engine.app, p.Registry, obj.Name, filter, "") == nil {
					at(c.Sort, "find: %v", err) // the filter alone passes: the sort adds what is refused
				}
			}
		}
		if c.Filter != nil && strings.TrimSpace(c.Filter.Value) != "" {
			params := dbx.Params{}
			for _, m := range placeholderRe.FindAllStringSubmatch(c.Filter.Value, -1) {
				params[m[1]] = ""
			}
			if err := checkReadFilter(p.Engine.app, p.Registry, obj.Name, c.Filter.Value, ""); err != nil {
				at(c.Filter, "find: %v", err)
			} else if err := checkFilterQuery(p.Engine.app, obj.Name, c.Filter.Value, "", params); err != nil {
				at(c.Filter, "find: %v", err)
			}
		}
	}
}

// suggestField names the field of obj closest to name, as " (did you mean \"x\"?)", or "".
func suggestField(obj *schemas.Object, name string) string {
	best, dist := "", 3
	for _, f := range obj.Fields {
		if d := schemas.EditDistance(name, f.Name); d < dist {
			best, dist = f.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// MaxScriptTimeout is the longest time limit a script action may ask for. A run's steps
// hold a worker (and, for scripts, the run's transaction) meanwhile.
const MaxScriptTimeout = 10 * time.Second

func (a *script) Run(rc *RunContext) (any, error) {
	timeout := a.timeout
	if !rc.deadline.IsZero() {
		// a dry run ends at its deadline, scripts included
		if timeout <= 0 {
			timeout = rc.Engine.cfg.ScriptTimeout
		}
		timeout = max(min(timeout, time.Until(rc.deadline)), time.Millisecond)
	}
	res, err := rc.Engine.sandbox.Run(context.Background(), a.Source, sandbox.Input{
		Record: rc.Input.Record, Old: rc.Input.Old, Store: &scriptStore{rc: rc}, Now: rc.Input.Now,
		Timeout: timeout,
	})
	if err != nil {
		switch {
		case errors.Is(err, sandbox.ErrTimeout):
			return nil, Permanent(fmt.Errorf("script stopped: it ran longer than its time limit: %w", err))
		case errors.Is(err, sandbox.ErrMemory), errors.Is(err, sandbox.ErrCallLimit):
			return nil, Permanent(fmt.Errorf("script stopped: %w", err))
		}
		return nil, Permanent(fmt.Errorf("script: %w", err))
	}
	out := map[string]any{"value": res.Value, "logs": res.Logs}
	if len(res.Set) > 0 {
		rec, err := rc.Record()
		if err != nil {
			return nil, err
		}
		for k, v := range res.Set {
			if rc.Object.Field(k) == nil {
				return nil, Permanent(fmt.Errorf("script set unknown field %q of %s", k, rc.Object.Name))
			}
			rec.Set(k, v)
		}
		if err := rc.Update(rec, res.Set); err != nil {
			return nil, err
		}
		out["set"] = res.Set
	}
	return out, nil
}

// scriptStore gives scripts find, create and update, within the run's transaction and the
// run-as user's permissions.
type scriptStore struct{ rc *RunContext }

var _ sandbox.Store = (*scriptStore)(nil)

// Find reads through [schemas.Find] as the run-as user (or the system actor): the object's
// list rule applies in SQL, hidden fields and @collection/@request references are refused,
// and the limit counts only records the actor may list. Results are newest first; scripts
// page by filtering on created (find('deals', 'created < {:last}', {last: page.at(-1).created})).
func (s *scriptStore) Find(ctx context.Context, q sandbox.Query) ([]map[string]any, error) {
	if _, ok := s.rc.Engine.reg.Object(q.Object); !ok {
		return nil, fmt.Errorf("unknown object %q", q.Object)
	}
	c := s.rc.Caller()
	if err := checkReadFilter(s.rc.App, s.rc.Engine.reg, q.Object, q.Filter, q.Sort); err != nil {
		return nil, err
	}
	// The query stops with the script: it runs in the step's transaction, holding the writer.
	recs, err := schemas.FindContext(ctx, s.rc.App, c, schemas.Query{Object: q.Object, Filter: q.Filter, Sort: q.Sort,
		Limit: q.Limit, Offset: q.Offset, Params: dbx.Params(q.Params)})
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		out = append(out, plainMap(schemas.Visible(r, c)))
	}
	return out, nil
}

func (s *scriptStore) Create(_ context.Context, object string, values map[string]any) (map[string]any, error) {
	if _, ok := s.rc.Engine.reg.Object(object); !ok {
		return nil, fmt.Errorf("unknown object %q", object)
	}
	rec, err := newRecord(s.rc, object, values)
	if err != nil {
		return nil, err
	}
	return plainMap(rec.FieldsData()), nil
}

// Update changes a record the run-as user may view and update (its update rule, and links it
// may make: [RunContext.Update]); fields are checked against the object.
func (s *scriptStore) Update(_ context.Context, object, id string, values map[string]any) (map[string]any, error) {
	obj, ok := s.rc.Engine.reg.Object(object)
	if !ok {
		return nil, fmt.Errorf("unknown object %q", object)
	}
	for k := range values {
		if obj.Field(k) == nil && !(strings.HasSuffix(k, schemas.CurrencySuffix) && obj.Field(strings.TrimSuffix(k, schemas.CurrencySuffix)) != nil) {
			return nil, fmt.Errorf("%s has no field %q", object, k)
		}
	}
	rec, err := s.rc.App.FindRecordById(object, id)
	if err != nil {
		return nil, fmt.Errorf("no %s %s", object, id)
	}
	if ok, err := s.rc.CanView(rec); err != nil || !ok {
		return nil, fmt.Errorf("no %s %s", object, id) // as if it did not exist
	}
	for k, v := range values {
		rec.Set(k, v)
	}
	if err := s.rc.Update(rec, values); err != nil {
		return nil, err
	}
	return plainMap(schemas.Visible(rec, s.rc.Caller())), nil
}
