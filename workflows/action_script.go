package workflows

import (
	"context"
	"errors"
	"fmt"
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
	}
	if a.Timeout != "" {
		d, err := time.ParseDuration(a.Timeout)
		if err != nil || d <= 0 || d > MaxScriptTimeout {
			p.Errorf("/timeout", "must be a duration up to %v, such as 500ms or 5s", MaxScriptTimeout)
		}
		a.timeout = d
	}
}

// MaxScriptTimeout is the longest time limit a script action may ask for. A run's steps
// hold a worker (and, for scripts, the run's transaction) meanwhile.
const MaxScriptTimeout = 10 * time.Second

func (a *script) Run(rc *RunContext) (any, error) {
	res, err := rc.Engine.sandbox.Run(context.Background(), a.Source, sandbox.Input{
		Record: rc.Input.Record, Old: rc.Input.Old, Store: &scriptStore{rc: rc}, Now: rc.Input.Now,
		Timeout: a.timeout,
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

// scriptStore gives scripts find and create, within the run's transaction and permissions.
type scriptStore struct{ rc *RunContext }

var _ sandbox.Store = (*scriptStore)(nil)

// Find reads through [schemas.Find] as the run-as user (or the system actor): the object's
// list rule applies in SQL, hidden fields and @collection/@request references are refused,
// and the limit counts only records the actor may list. Results are newest first; scripts
// page by filtering on created (find('deals', 'created < {:last}', {last: page.at(-1).created})).
func (s *scriptStore) Find(_ context.Context, object, filter string, params map[string]any, limit int) ([]map[string]any, error) {
	if _, ok := s.rc.Engine.reg.Object(object); !ok {
		return nil, fmt.Errorf("unknown object %q", object)
	}
	c := s.rc.Caller()
	recs, err := schemas.Find(s.rc.App, c, schemas.Query{Object: object, Filter: filter, Limit: limit, Params: dbx.Params(params)})
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
