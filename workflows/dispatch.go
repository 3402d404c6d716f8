package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/condition"
)

// EventKind is what happened to a record.
type EventKind string

// Record event kinds.
const (
	Created EventKind = "create"
	Updated EventKind = "update"
	Deleted EventKind = "delete"
)

type indexKey struct {
	object string
	kind   EventKind
}

// kindOf tells which record event a trigger listens to ("" for time and manual triggers).
func kindOf(trigger string) EventKind {
	switch trigger {
	case TriggerRecordCreated:
		return Created
	case TriggerRecordUpdated, TriggerFieldChanged, TriggerStageChanged:
		return Updated
	case TriggerRecordDeleted:
		return Deleted
	}
	return ""
}

// Load reads every enabled workflow from the database, compiles it and rebuilds the dispatch
// index. A stored workflow that no longer compiles (the object model changed under it) is
// left out and logged.
func (e *Engine) Load() error {
	recs, err := e.app.FindRecordsByFilter(Collection, "enabled = true", "name", 0, 0)
	if err != nil {
		return fmt.Errorf("read workflows: %w", err)
	}
	byName := map[string]*Workflow{}
	for _, rec := range recs {
		if w := e.compileRecord(rec); w != nil {
			byName[w.Def.Name] = w
		}
	}
	e.mu.Lock()
	e.byName = byName
	e.reindex()
	e.mu.Unlock()
	return nil
}

// compileRecord compiles a stored workflow, or logs why it cannot run and returns nil.
func (e *Engine) compileRecord(rec *core.Record) *Workflow {
	d, err := e.definitionOf(rec)
	if err == nil {
		var w *Workflow
		if w, err = e.Compile(rec.GetString("name"), d); err == nil {
			w.ID = rec.Id
			w.EnabledAt = rec.GetDateTime("enabled_at").Time()
			return w
		}
	}
	e.app.Logger().Error("relata: workflow disabled until fixed", "workflow", rec.GetString("name"), "error", err)
	return nil
}

// reloadOne brings one stored workflow up to date after it was saved or deleted, without
// recompiling the others. deleted is set for a delete.
func (e *Engine) reloadOne(rec *core.Record, deleted bool) {
	var w *Workflow
	if !deleted && rec.GetBool("enabled") {
		w = e.compileRecord(rec)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, old := range e.byName {
		if old.ID == rec.Id {
			delete(e.byName, name)
		}
	}
	if w != nil {
		e.byName[w.Def.Name] = w
	}
	e.reindex()
}

// reindex rebuilds the dispatch index from byName; the caller holds the write lock.
func (e *Engine) reindex() {
	index := map[indexKey][]*Workflow{}
	var timed []*Workflow
	for _, name := range slices.Sorted(maps.Keys(e.byName)) {
		w := e.byName[name]
		if k := kindOf(w.Def.Trigger.Type); k != "" {
			key := indexKey{w.Object.Name, k}
			index[key] = append(index[key], w)
		}
		switch w.Def.Trigger.Type {
		case TriggerSchedule, TriggerDate, TriggerDormant:
			timed = append(timed, w)
		}
	}
	e.index, e.timed = index, timed
}

// Workflow returns the enabled workflow with the given name.
func (e *Engine) Workflow(name string) (*Workflow, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	w, ok := e.byName[name]
	return w, ok
}

func (e *Engine) workflowByID(id string) *Workflow {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, w := range e.byName {
		if w.ID == id {
			return w
		}
	}
	return nil
}

// Listens reports whether an enabled workflow may be triggered by a kind event on object.
// It is what keeps saving records cheap when no workflow cares: one map lookup.
func (e *Engine) Listens(object string, kind EventKind) bool {
	e.mu.RLock()
	n := len(e.index[indexKey{object, kind}])
	e.mu.RUnlock()
	return n > 0
}

// Event is a record change that may trigger workflows.
type Event struct {
	Kind   EventKind
	Record *core.Record
	// Actor is the signed-in user who made the change, if known.
	Actor *core.Record
	// Ctx is the context of the save: for a write made by a workflow run, it carries the
	// run's depth and chain (withRun).
	Ctx context.Context
}

type ctxKey struct{}

type runCtx struct {
	depth int
	actor string
	// chain is the id of the run that started the chain the writing run belongs to: the
	// runs its writes queue count against that run's MaxChainRuns.
	chain string
}

// withRun marks writes made by a workflow run of depth d, of chain, acting as actor (a user id).
func withRun(ctx context.Context, d int, actor, chain string) context.Context {
	return context.WithValue(ctx, ctxKey{}, runCtx{depth: d, actor: actor, chain: chain})
}

func runOf(ctx context.Context) (runCtx, bool) {
	if ctx == nil {
		return runCtx{}, false
	}
	r, ok := ctx.Value(ctxKey{}).(runCtx)
	return r, ok
}

// Enqueue queues a run of every enabled workflow that ev triggers and whose condition holds.
// Call it with the transaction that saves the record (see package hooks), so the runs commit
// with the change or not at all; then [Engine.Wake] after the commit. It returns how many runs
// were queued.
func (e *Engine) Enqueue(tx core.App, ev Event) (int, error) {
	obj := ev.Record.Collection().Name
	e.mu.RLock()
	cands := e.index[indexKey{obj, ev.Kind}]
	e.mu.RUnlock()
	if len(cands) == 0 {
		return 0, nil
	}
	depth, actorID, chain := 0, "", ""
	if rc, ok := runOf(ev.Ctx); ok {
		depth, actorID, chain = rc.depth, rc.actor, rc.chain
	}
	var actor *core.Record
	if ev.Actor != nil {
		actor, actorID = ev.Actor, ""
		if ev.Actor.Collection().Name == schemas.UsersCollection {
			actorID = ev.Actor.Id
		}
	}
	now := e.cfg.Now()
	newVals := snapshot(ev.Record)
	oldVals := newVals
	var changed []string
	if ev.Kind == Updated {
		oldVals = snapshot(ev.Record.Original())
		changed = changedFields(oldVals, newVals)
		if len(changed) == 0 {
			return 0, nil
		}
	}
	in := condition.Input{Record: newVals, Old: oldVals, Changed: changed, User: userOf(actor), Now: now, Event: string(ev.Kind)}
	if ev.Kind == Created {
		in.Old = nil
	}
	var (
		input []byte // marshalled once, for every run of this event
		runs  []newRun
		facts *facts // built for the first condition, shared by the others (segment ids cached)
	)
	for _, w := range cands {
		if !w.matches(in) {
			continue
		}
		if w.cond != nil {
			if facts == nil {
				facts = newFacts(tx, obj, newVals, time.Time{})
			}
			in := in
			in.Facts = facts
			ok, err := w.cond.Eval(in)
			if err != nil {
				e.app.Logger().Warn("relata: workflow condition failed", "workflow", w.Def.Name, "record", ev.Record.Id, "error", err)
				continue
			}
			if !ok {
				continue
			}
		}
		if input == nil {
			var err error
			if input, err = marshalInput(in, string(ev.Kind)); err != nil {
				return 0, err
			}
		}
		run := newRun{w: w, recordID: ev.Record.Id, event: string(ev.Kind), in: in, actor: actorID, depth: depth, input: input, chain: chain}
		if depth >= e.cfg.MaxDepth {
			run.status = "skipped"
			run.err = fmt.Sprintf("not run: the chain of workflows triggering workflows reached the depth limit (%d) when %s/%s changed; a workflow may be re-triggering itself (Config.MaxDepth)", e.cfg.MaxDepth, obj, ev.Record.Id)
		}
		runs = append(runs, run)
	}
	if depth > 0 && depth < e.cfg.MaxDepth && len(runs) > 0 {
		// A change made by a run: its runs are the chain's, and count against its budget.
		// A change at depth 0 (a user's save) starts chains and counts nothing.
		if err := e.chargeChain(tx, chain, runs); err != nil {
			return 0, err
		}
	}
	if len(runs) >= eventMinRuns {
		// One row for the change rather than one per run: the engine writes the runs after
		// the commit (events.go).
		if err := e.insertEvent(tx, runs); err != nil {
			return 0, err
		}
		return len(runs), nil
	}
	if _, err := e.insertRuns(tx, runs); err != nil {
		return 0, err
	}
	return len(runs), nil
}

// matches reports whether a record event fits the workflow's trigger (not its condition).
func (w *Workflow) matches(in condition.Input) bool {
	t := w.Def.Trigger
	switch t.Type {
	case TriggerFieldChanged:
		return slices.Contains(in.Changed, t.Field) && valueIs(in.Old[t.Field], t.From) && valueIs(in.Record[t.Field], t.To)
	case TriggerStageChanged:
		f := w.stageField()
		return slices.Contains(in.Changed, f) && valueIs(in.Old[f], t.From) && valueIs(in.Record[f], t.To)
	}
	return true
}

// valueIs compares a record value with a trigger's from/to; a nil want matches anything.
func valueIs(got, want any) bool {
	if want == nil {
		return true
	}
	return fmt.Sprint(plain(got)) == fmt.Sprint(plain(want))
}

// plain turns record values into what JSON would give, for comparisons and storage.
func plain(v any) any {
	switch x := v.(type) {
	case types.DateTime:
		if x.IsZero() {
			return ""
		}
		return x.String()
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}

func changedFields(old, cur map[string]any) []string {
	var out []string
	for k, v := range cur {
		if k == schemas.FieldUpdated || k == schemas.FieldCreated {
			continue
		}
		if !reflect.DeepEqual(plain(v), plain(old[k])) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// snapshot is what conditions, templates, scripts and webhooks see of rec: its fields but
// those hidden in PocketBase, which only superusers read over REST (a workflow's author is a
// manager, and its webhooks and emails go where she chooses), and a user's email only where
// it is visible.
func snapshot(rec *core.Record) map[string]any { return schemas.Visible(rec, schemas.System) }

// userOf is the user who caused an event as expressions see it.
func userOf(u *core.Record) condition.User {
	if u == nil {
		return condition.User{}
	}
	role := u.GetString("role")
	if u.IsSuperuser() {
		role = "superuser"
	}
	email := ""
	if schemas.System.MayReadEmail(u) {
		// Expressions may copy user.email into records, emails and webhooks, and the run's
		// input is kept in the run history every manager reads: a user's address only where
		// they made it visible, as the REST API shows it.
		email = u.Email()
	}
	return condition.User{ID: u.Id, Email: email, Name: u.GetString("name"), Role: role, Team: u.GetString("team")}
}

// newRun is a run to insert.
type newRun struct {
	w        *Workflow
	recordID string
	event    string
	in       condition.Input
	actor    string
	depth    int
	status   string
	err      string
	dedupe   string
	nextAt   time.Time
	// chain is the id of the run that started the chain of this run ("" for a run no workflow
	// run caused: it starts a chain of its own).
	chain string
	// input is the stored input, when already marshalled (one event queues several runs).
	input []byte
	// Set for runs written from a workflow event, whose workflow w is not loaded:
	// the workflow's id, name and object, and when the change was saved.
	wfID, wfName, object string
	created              string
}

// workflow returns the run's workflow id, name and object.
func (r newRun) workflow() (id, name, object string) {
	if r.w == nil {
		return r.wfID, r.wfName, r.object
	}
	object = r.w.Object.Name
	if r.w.Object == noObject {
		object = ""
	}
	return r.w.ID, r.w.Def.Name, object
}

func marshalInput(in condition.Input, event string) ([]byte, error) {
	return json.Marshal(runInput{Record: plainMap(in.Record), Old: plainMap(in.Old), Changed: in.Changed, Event: event, User: in.User})
}

// runInput is the stored input of a run.
type runInput struct {
	Record  map[string]any `json:"record"`
	Old     map[string]any `json:"old,omitempty"`
	Changed []string       `json:"changed,omitempty"`
	Event   string         `json:"event"`
	User    condition.User `json:"user"`
}

func plainMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

// insertRun stores one queued run and returns its id; with a dedupe key already used, it
// stores nothing and returns "".
func (e *Engine) insertRun(tx core.App, r newRun) (string, error) {
	ids, err := e.insertRuns(tx, []newRun{r})
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// insertRuns stores queued runs with one multi-row INSERT and returns their ids. Runs whose
// dedupe key is already used are not stored (with a single run, the result is then empty).
// Runs are written with SQL rather than record saves: this is the hot path of every triggering
// change, and runs are Relata's own bookkeeping (no API hooks or validation to run).
func (e *Engine) insertRuns(tx core.App, runs []newRun) ([]string, error) {
	ids, n, err := e.writeRuns(tx, runs)
	if err != nil || n == 0 {
		return nil, err // n == 0: the dedupe key was taken: queued before
	}
	return ids, nil
}

// countRuns is insertRuns for runs with dedupe keys of their own; it returns how many were
// stored.
func (e *Engine) countRuns(tx core.App, runs []newRun) (int, error) {
	_, n, err := e.writeRuns(tx, runs)
	return int(n), err
}

func (e *Engine) writeRuns(tx core.App, runs []newRun) ([]string, int64, error) {
	// A run takes 17 parameters, and the SQLite driver's binding of named parameters grows
	// with the square of their number: 500 runs in one statement cost 8 times more per run
	// than 40 (BenchmarkFanOutEvents).
	const chunk = 40
	if len(runs) > chunk {
		var (
			ids []string
			n   int64
		)
		for from := 0; from < len(runs); from += chunk {
			some, k, err := e.writeRuns(tx, runs[from:min(from+chunk, len(runs))])
			if err != nil {
				return nil, 0, err
			}
			ids, n = append(ids, some...), n+k
		}
		return ids, n, nil
	}
	if len(runs) == 0 {
		return nil, 0, nil
	}
	now := dbTime(time.Now())
	params := dbx.Params{"now": now}
	rows := make([]string, len(runs))
	ids := make([]string, len(runs))
	for i, r := range runs {
		if r.status == "" {
			r.status = StatusPending
		}
		if r.nextAt.IsZero() {
			r.nextAt = e.cfg.Now()
		}
		input := r.input
		if input == nil {
			var err error
			if input, err = marshalInput(r.in, r.event); err != nil {
				return nil, 0, err
			}
		}
		wfID, wfName, object := r.workflow()
		created := "{:now}"
		finished := ""
		if r.status == StatusSkipped {
			finished = dbTime(r.nextAt)
		}
		ids[i] = schemas.OrderedID()
		p := func(name string, v any) string {
			key := fmt.Sprintf("%s%d", name, i)
			params[key] = v
			return "{:" + key + "}"
		}
		if r.created != "" {
			created = p("created", r.created)
		}
		chain := "''" // a literal: most runs start a chain, and a parameter costs every run its binding
		if r.chain != "" {
			chain = p("chain", r.chain)
		}
		rows[i] = "(" + strings.Join([]string{
			p("id", ids[i]), p("workflow", wfID), p("name", wfName), p("object", object),
			p("record", r.recordID), p("event", r.event), p("status", r.status), "0", p("next", dbTime(r.nextAt)), "''",
			p("depth", r.depth), p("dedupe", r.dedupe), p("actor", r.actor), p("input", string(input)), p("error", r.err),
			"''", p("finished", finished), created, "{:now}", chain,
		}, ", ") + ")"
	}
	res, err := tx.DB().NewQuery(`INSERT INTO workflow_runs
		(id, workflow, workflow_name, object, record_id, event, status, attempts, next_at, lease_until,
		 depth, dedupe_key, actor, input, error, started, finished, created, updated, chain)
		VALUES ` + strings.Join(rows, ", ") + `
		ON CONFLICT DO NOTHING`).Bind(params).Execute()
	if err != nil {
		_, name, _ := runs[0].workflow()
		return nil, 0, fmt.Errorf("queue runs of workflow %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	return ids, n, err
}
