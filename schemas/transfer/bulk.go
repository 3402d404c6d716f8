package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/list"
	"github.com/pocketbase/pocketbase/tools/search"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// BulkJobsCollection holds one record per bulk job (bulk action or reassignment).
const BulkJobsCollection = "relata_bulk_jobs"

// Bulk actions.
const (
	// ActionUpdate sets Field to Value.
	ActionUpdate = "update"
	// ActionAddTags adds Tags to a tags or multi-select Field.
	ActionAddTags = "addTags"
	// ActionRemoveTags removes Tags from a tags or multi-select Field.
	ActionRemoveTags = "removeTags"
	// ActionOwner hands the records to the user whose id is Value.
	ActionOwner = "owner"
	// ActionDelete moves the records to the trash (restorable for 30 days).
	ActionDelete = "delete"
	// ActionReassign is the action of a reassignment job ([Service.Reassign]).
	ActionReassign = "reassign"
)

// Job statuses.
const (
	JobRunning   = "running"
	JobDone      = "done"
	JobCancelled = "cancelled"
	JobFailed    = "failed"
)

// ErrForbidden is returned when the caller may not change the records of an object at all
// (not a CRM user, or no list rule for them).
var ErrForbidden = errForbidden

// maxSamples bounds the per-record reasons a job keeps (the counts per reason are complete).
const maxSamples = 100

// BulkOptions says what a bulk action changes, on which records, and as whom.
type BulkOptions struct {
	// Object is the object (collection) name.
	Object string `json:"object"`
	// IDs is the selection; ignored when All is set.
	IDs []string `json:"ids,omitempty"`
	// All acts on every record matching Filter that the caller may list (every record they
	// may list when Filter is empty). Filter is PocketBase filter syntax, checked by
	// [schemas.CheckFilter].
	All    bool   `json:"all,omitempty"`
	Filter string `json:"filter,omitempty"`
	// Action is one of the Action* constants except ActionReassign.
	Action string `json:"action"`
	// Field is the field that update, addTags and removeTags change.
	Field string `json:"field,omitempty"`
	// Value is the new value (update), or the new owner's user id (owner).
	Value any `json:"value,omitempty"`
	// Tags are added or removed (addTags, removeTags).
	Tags []string `json:"tags,omitempty"`
	// Workflows lets each change trigger workflows as a single edit would (default: none run).
	Workflows bool `json:"workflows,omitempty"`
	// DryRun checks every record (rules and validation) and writes nothing but the job.
	DryRun bool `json:"dryRun,omitempty"`
	// As is the CRM user acting; nil is a superuser (the command line).
	As *core.Record `json:"-"`
	// BatchSize is how many records one transaction changes. Default: 200.
	BatchSize int `json:"-"`
}

// Job is a bulk job's state, as the API returns it.
type Job struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Object    string `json:"object,omitempty"`
	Action    string `json:"action"`
	Status    string `json:"status"`
	DryRun    bool   `json:"dryRun"`
	Total     int    `json:"total"`
	Processed int    `json:"processed"`
	Changed   int    `json:"changed"`
	Unchanged int    `json:"unchanged"`
	// Refused counts records the caller may not change (or that are not there for them).
	Refused int `json:"refused"`
	// Failed counts records whose change is invalid or could not be saved.
	Failed int `json:"failed"`
	// Reasons counts refused and failed records per reason.
	Reasons map[string]int `json:"reasons"`
	// Samples are the first refused or failed records with their reason.
	Samples []Sample `json:"samples"`
	// RunsQueued is how many workflow runs the changes queued (only with workflows on).
	RunsQueued int `json:"runsQueued"`
	// Objects counts per object (reassignments).
	Objects map[string]*ObjectCounts `json:"objects,omitempty"`
	Error   string                   `json:"error,omitempty"`
	User    string                   `json:"user,omitempty"`
}

// Sample is one record a job did not change, and why.
type Sample struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// ObjectCounts are a job's counts for one object.
type ObjectCounts struct {
	Total   int `json:"total"`
	Changed int `json:"changed"`
	Other   int `json:"other"` // unchanged, refused or failed
}

// BadRequestError is a bulk or reassign request that cannot run as asked; Field names the
// request field at fault.
type BadRequestError struct {
	Field   string
	Message string
}

func (e *BadRequestError) Error() string { return e.Field + ": " + e.Message }

func badRequest(field, format string, args ...any) error {
	return &BadRequestError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// jobTarget is one record a job changes.
type jobTarget struct {
	coll *core.Collection
	id   string
	// group names the counts the target is in: its object, or "tasks" for open tasks.
	group string
	// to is the new owner (reassignments).
	to string
}

// change computes the fields a job sets on rec (none: unchanged), or that it deletes rec.
type change func(rec *core.Record, t *jobTarget) (set map[string]any, del bool, err error)

// plan is a job ready to run.
type plan struct {
	kind, object, action string
	params               any
	as                   *core.Record
	targets              []jobTarget
	// missing counts asked-for records that are not there, or not for the caller to see.
	missing   int
	change    change
	workflows bool
	dryRun    bool
	batch     int
	perObject bool
	// record keeps each changed record's previous values (relata_bulk_changes) so that the
	// job can be undone ([Service.Undo Bulk]); seq numbers them.
	record bool
	seq    int
	// undoOf is the job an undo job reverts.
	undoOf string
	// job is the id of the job running the plan (set by run).
	job string
}

// caller returns who acts for a job: the CRM user, or the system for a superuser.
func callerOf(as *core.Record) schemas.Caller {
	if as == nil || as.IsSuperuser() {
		return schemas.System
	}
	return schemas.User(as)
}

// Bulk runs a bulk action to the end and returns the finished job (see [Service.StartBulk]
// for running it in the background).
// A dry run (the dialog's Preview) loads and checks every record as the job would: it takes
// one of the user's slots ([MaxBusyPerUser]) while it runs, as the job does.
func (s *Service) Bulk(ctx context.Context, opts BulkOptions) (*Job, error) {
	release, err := s.acquire(opts.As)
	if err != nil {
		return nil, err
	}
	defer release()
	p, err := s.planBulk(opts)
	if err != nil {
		return nil, err
	}
	rec, err := s.newJob(p)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, rec, p), nil
}

// StartBulk checks a bulk action, records its job and runs it in the background; poll the
// job with [Service.Job], stop it with [Service.Cancel]. The user's slot ([MaxBusyPerUser])
// is taken before the check, which reads the id of every matching record.
func (s *Service) StartBulk(opts BulkOptions) (*Job, error) {
	return s.start(opts.As, func() (*plan, error) { return s.planBulk(opts) })
}

func (s *Service) planBulk(opts BulkOptions) (*plan, error) {
	o, ok := s.reg.Object(opts.Object)
	if !ok || o == nil {
		return nil, badRequest("object", "no object named %q", opts.Object)
	}
	coll, err := s.app.FindCachedCollectionByNameOrId(o.Name)
	if err != nil {
		return nil, badRequest("object", "no object named %q", opts.Object)
	}
	if opts.As != nil && !opts.As.IsSuperuser() && opts.As.Collection().Name != schemas.UsersCollection {
		return nil, errForbidden
	}
	p := &plan{kind: "bulk", object: o.Name, action: opts.Action, as: opts.As, workflows: opts.Workflows,
		dryRun: opts.DryRun, batch: opts.BatchSize, record: opts.Action != ActionDelete}
	params := map[string]any{"field": opts.Field, "value": opts.Value, "tags": opts.Tags, "all": opts.All,
		"filter": opts.Filter, "selected": len(opts.IDs), "dryRun": opts.DryRun, "workflows": opts.Workflows}
	p.params = params
	if err := checkParamSizes(opts); err != nil {
		return nil, err
	}
	if p.change, err = bulkChange(s.app, o, &opts); err != nil {
		return nil, err
	}
	c := callerOf(opts.As)
	var ids []string
	if opts.All {
		ids, err = matchingIDs(s.app, c, o.Name, opts.Filter)
	} else {
		if len(opts.IDs) == 0 {
			return nil, badRequest("ids", "select at least one record, or act on all records matching the filter")
		}
		asked := list.ToUniqueStringSlice(opts.IDs)
		ids, err = visibleIDs(s.app, c, coll, asked)
		p.missing = len(asked) - len(ids)
	}
	if err != nil {
		return nil, err
	}
	p.targets = make([]jobTarget, len(ids))
	for i, id := range ids {
		p.targets[i] = jobTarget{coll: coll, id: id, group: coll.Name}
	}
	return p, nil
}

// maxBulkValue bounds the JSON of a bulk change's value and of its tags: the job keeps its
// request in relata_bulk_jobs.params (64 KiB), so a larger one could not be recorded.
const maxBulkValue = 28 << 10

// checkParamSizes refuses, naming the field, a request too large to be recorded as its job's
// parameters: a filter longer than the REST API takes (PocketBase's search.MaxFilterLength),
// a value or tags over maxBulkValue.
func checkParamSizes(opts BulkOptions) error {
	if len(opts.Filter) > search.MaxFilterLength {
		return badRequest("filter", "the filter is %d characters long; at most %d are allowed, as in the REST API", len(opts.Filter), search.MaxFilterLength)
	}
	for field, v := range map[string]any{"value": opts.Value, "tags": opts.Tags} {
		if b, _ := json.Marshal(v); len(b) > maxBulkValue {
			return badRequest(field, "%d KiB is more than a bulk change takes (%d KiB)", len(b)>>10, maxBulkValue>>10)
		}
	}
	return nil
}

// bulkChange checks an action's options against the object and returns what it does to each
// record.
func bulkChange(app core.App, o *schemas.Object, opts *BulkOptions) (change, error) {
	field := func() (*schemas.Field, error) {
		if opts.Field == "" {
			return nil, badRequest("field", "choose the field to change")
		}
		f := o.Field(opts.Field)
		if f == nil {
			return nil, badRequest("field", "%s has no field %q", o.Name, opts.Field)
		}
		if f.Type == schemas.TypeFile {
			return nil, badRequest("field", "files cannot be changed in bulk")
		}
		return f, nil
	}
	switch opts.Action {
	case ActionUpdate:
		f, err := field()
		if err != nil {
			return nil, err
		}
		return func(rec *core.Record, _ *jobTarget) (map[string]any, bool, error) {
			before := fmt.Sprint(rec.Get(f.Name))
			rec.Set(f.Name, opts.Value)
			if fmt.Sprint(rec.Get(f.Name)) == before {
				return nil, false, nil
			}
			return map[string]any{f.Name: opts.Value}, false, nil
		}, nil
	case ActionAddTags, ActionRemoveTags:
		f, err := field()
		if err != nil {
			return nil, err
		}
		if f.Type != schemas.TypeTags && !(f.Type == schemas.TypeSelect && f.Multiple) {
			return nil, badRequest("field", "%q is not a tags or multiple-choice field", f.Name)
		}
		tags := list.ToUniqueStringSlice(opts.Tags)
		tags = slices.DeleteFunc(tags, func(t string) bool { return strings.TrimSpace(t) == "" })
		if len(tags) == 0 {
			return nil, badRequest("tags", "name at least one tag")
		}
		add := opts.Action == ActionAddTags
		return func(rec *core.Record, _ *jobTarget) (map[string]any, bool, error) {
			cur := stringList(rec.Get(f.Name))
			next := slices.Clone(cur)
			if add {
				for _, t := range tags {
					if !slices.Contains(next, t) {
						next = append(next, t)
					}
				}
			} else {
				next = slices.DeleteFunc(next, func(t string) bool { return slices.Contains(tags, t) })
			}
			if slices.Equal(cur, next) {
				return nil, false, nil
			}
			rec.Set(f.Name, next)
			return map[string]any{f.Name: next}, false, nil
		}, nil
	case ActionOwner:
		of := o.OwnerField()
		if of == nil {
			return nil, badRequest("action", "%s has no owner field", o.Name)
		}
		to, _ := opts.Value.(string)
		u, err := app.FindRecordById(schemas.UsersCollection, to)
		if err != nil {
			return nil, badRequest("value", "no CRM user with id %q", to)
		}
		return func(rec *core.Record, _ *jobTarget) (map[string]any, bool, error) {
			if rec.GetString(of.Name) == u.Id {
				return nil, false, nil
			}
			rec.Set(of.Name, u.Id)
			return map[string]any{of.Name: u.Id}, false, nil
		}, nil
	case ActionDelete:
		return func(*core.Record, *jobTarget) (map[string]any, bool, error) { return nil, true, nil }, nil
	default:
		return nil, badRequest("action", "%q is not a bulk action: use update, addTags, removeTags, owner or delete", opts.Action)
	}
}

// stringList reads a tags (JSON) or multi-select value as a list of strings.
func stringList(v any) []string {
	switch x := v.(type) {
	case types.JSONRaw:
		var out []string
		if len(x) > 0 && json.Unmarshal(x, &out) == nil {
			return out
		}
		var one string
		if json.Unmarshal(x, &one) == nil && one != "" {
			return []string{one}
		}
		return nil
	default:
		return list.ToUniqueStringSlice(v)
	}
}

// matchingIDs returns the ids of every record of object matching filter that c may list, in
// id order: through [schemas.Find] (which applies the filter guard and the list rule), a
// page of FindMaxLimit at a time, keyed on the last id seen.
func matchingIDs(app core.App, c schemas.Caller, object, filter string) ([]string, error) {
	refused := func(err error) error {
		var ae *schemas.AccessError
		if errors.As(err, &ae) && ae.Where != "object" {
			return badRequest(ae.Where, "%s", ae.Error())
		}
		if errors.Is(err, schemas.ErrForbidden) {
			return errForbidden
		}
		return err
	}
	// The filter alone first: it must parse (and pass the guard) as a whole before it is
	// wrapped in parentheses, or "a) || (b" would escape the paging condition.
	if _, err := schemas.Find(app, c, schemas.Query{Object: object, Filter: filter, Sort: "id", Limit: 1}); err != nil {
		return nil, refused(err)
	}
	var ids []string
	after := ""
	for {
		f := "id > {:relataBulkAfter}"
		if strings.TrimSpace(filter) != "" {
			f = "(" + filter + ") && " + f
		}
		recs, err := schemas.Find(app, c, schemas.Query{Object: object, Filter: f, Sort: "id",
			Limit: schemas.FindMaxLimit, Params: dbx.Params{"relataBulkAfter": after}})
		if err != nil {
			return nil, refused(err)
		}
		for _, r := range recs {
			ids = append(ids, r.Id)
		}
		if len(recs) < schemas.FindMaxLimit {
			return ids, nil
		}
		last := recs[len(recs)-1].Id
		if last <= after {
			return nil, badRequest("filter", "the filter does not let the records be paged by id")
		}
		after = last
	}
}

// visibleIDs returns those of ids that c may list, in the order asked.
func visibleIDs(app core.App, c schemas.Caller, coll *core.Collection, ids []string) ([]string, error) {
	seen := map[string]bool{}
	for chunk := range slices.Chunk(ids, 500) {
		q, err := schemas.ListQuery(app, coll, c)
		if err != nil {
			return nil, errForbidden
		}
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		var found []string
		if err := q.Select("[[" + coll.Name + ".id]]").AndWhere(dbx.In(coll.Name+".id", args...)).Column(&found); err != nil {
			return nil, fmt.Errorf("find the selected %s: %w", coll.Name, err)
		}
		for _, id := range found {
			seen[id] = true
		}
	}
	out := make([]string, 0, len(seen))
	for _, id := range ids {
		if seen[id] {
			out = append(out, id)
			delete(seen, id)
		}
	}
	return out, nil
}

// jobs tracks the jobs running in the background, to cancel them and wait for them.
type jobs struct {
	mu      sync.Mutex
	cancels map[string]context.CancelFunc
	wg      sync.WaitGroup
	ctx     context.Context
	stop    context.CancelFunc
}

func (s *Service) jobState() *jobs {
	s.jobsOnce.Do(func() {
		ctx, stop := context.WithCancel(context.Background())
		s.bg = &jobs{cancels: map[string]context.CancelFunc{}, ctx: ctx, stop: stop}
	})
	return s.bg
}

// start takes one of as's slots ([MaxBusyPerUser]), plans a job with planJob — in the slot:
// planning reads the id of every record the job changes —, records it and runs it in the
// background.
func (s *Service) start(as *core.Record, planJob func() (*plan, error)) (*Job, error) {
	release, err := s.acquire(as)
	if err != nil {
		return nil, err
	}
	p, err := planJob()
	if err != nil {
		release()
		return nil, err
	}
	rec, err := s.newJob(p)
	if err != nil {
		release()
		return nil, err
	}
	return s.launch(rec, p, release), nil
}

// launch runs p's recorded job rec in the background; release is called when it ends.
func (s *Service) launch(rec *core.Record, p *plan, release func()) *Job {
	j := s.jobState()
	ctx, cancel := context.WithCancel(j.ctx)
	j.mu.Lock()
	j.cancels[rec.Id] = cancel
	j.mu.Unlock()
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		defer func() {
			j.mu.Lock()
			delete(j.cancels, rec.Id)
			j.mu.Unlock()
			cancel()
			release()
		}()
		s.run(ctx, rec, p)
	}()
	return jobOf(rec)
}

// StopJobs cancels the jobs running in the background and waits for them to record it.
// Register binds it to the app's termination.
func (s *Service) StopJobs() {
	j := s.jobState()
	j.stop()
	j.wg.Wait()
}

// Cancel stops the running job id after its current transaction. Only its starter, admins
// and superusers may cancel it (as: nil is a superuser). It reports whether a running job
// was found.
func (s *Service) Cancel(id string, as *core.Record) bool {
	if _, err := s.Job(id, as); err != nil {
		return false
	}
	j := s.jobState()
	j.mu.Lock()
	cancel, ok := j.cancels[id]
	j.mu.Unlock()
	if ok {
		cancel()
	}
	return ok
}

// ErrNoJob is returned for a job that does not exist or is not the caller's to see.
var ErrNoJob = errors.New("no such job, or it is not yours to see")

// Job returns job id as its starter, an admin or a superuser (as: nil) sees it.
func (s *Service) Job(id string, as *core.Record) (*Job, error) {
	rec, err := s.app.FindRecordById(BulkJobsCollection, id)
	if err != nil {
		return nil, ErrNoJob
	}
	if as != nil && !as.IsSuperuser() && rec.GetString("user") != as.Id && as.GetString("role") != schemas.RoleAdmin {
		return nil, ErrNoJob
	}
	return jobOf(rec), nil
}

func (s *Service) newJob(p *plan) (*core.Record, error) {
	coll, err := s.app.FindCachedCollectionByNameOrId(BulkJobsCollection)
	if err != nil {
		return nil, err
	}
	rec := core.NewRecord(coll)
	rec.Set("kind", p.kind)
	rec.Set("object", p.object)
	rec.Set("action", p.action)
	rec.Set("params", p.params)
	rec.Set("status", JobRunning)
	rec.Set("total", len(p.targets)+p.missing)
	rec.Set("actor", "superuser")
	rec.Set("undo_of", p.undoOf)
	if p.as != nil && !p.as.IsSuperuser() {
		rec.Set("user", p.as.Id)
		rec.Set("actor", p.as.Email())
	}
	if err := s.app.Save(rec); err != nil {
		return nil, fmt.Errorf("record the job: %w", err)
	}
	return rec, nil
}

// tally is a running job's counts.
type tally struct {
	Job
	dirty bool
}

func (t *tally) reason(object, id, reason string) {
	t.Reasons[reason]++
	if len(t.Samples) < maxSamples {
		t.Samples = append(t.Samples, Sample{Object: object, ID: id, Reason: reason})
	}
}

// run changes p's targets a batch per transaction, recording the counts after each batch,
// until done or ctx is cancelled.
func (s *Service) run(ctx context.Context, rec *core.Record, p *plan) *Job {
	p.job = rec.Id
	t := &tally{Job: *jobOf(rec)}
	t.Reasons = map[string]int{}
	t.Samples = []Sample{}
	if p.perObject {
		t.Objects = map[string]*ObjectCounts{}
		for _, tg := range p.targets {
			oc := t.Objects[tg.group]
			if oc == nil {
				oc = &ObjectCounts{}
				t.Objects[tg.group] = oc
			}
			oc.Total++
		}
	}
	if p.missing > 0 {
		t.Refused += p.missing
		t.Processed += p.missing
		t.Reasons["not found, or you may not see it"] += p.missing
	}
	batch := p.batch
	if batch <= 0 {
		batch = 200
	}
	origin := schemas.Origin{Kind: schemas.OriginSuperuser, ID: "", Via: "bulk " + p.action + " " + rec.Id}
	if p.as != nil && !p.as.IsSuperuser() {
		origin = schemas.Origin{Kind: schemas.OriginUser, ID: p.as.Id, Via: "bulk " + p.action + " " + rec.Id}
	} else if p.as != nil {
		origin.ID = p.as.Id
	}
	saveCtx := schemas.WithOrigin(context.Background(), origin)
	var runs *atomic.Int64
	if !p.workflows {
		saveCtx = schemas.WithoutTriggers(saveCtx)
	} else {
		saveCtx, runs = schemas.WithRunCounter(saveCtx)
	}
	info := caller(p.as, "PATCH")
	if p.as != nil && p.as.IsSuperuser() {
		info = caller(nil, "PATCH")
	}
	status := JobDone
	for chunk := range slices.Chunk(p.targets, batch) {
		if ctx.Err() != nil {
			status = JobCancelled
			break
		}
		var local tally
		var err error
		var runsBefore int64
		if runs != nil {
			runsBefore = runs.Load()
		}
		if p.dryRun {
			// A dry run writes nothing: no write transaction, so writers are not held up.
			local = tally{Job: Job{Reasons: map[string]int{}, Objects: map[string]*ObjectCounts{}}}
			err = s.applyChunk(saveCtx, s.app, info, p, chunk, &local)
		} else {
			err = s.app.RunInTransaction(func(tx core.App) error {
				local = tally{Job: Job{Reasons: map[string]int{}, Objects: map[string]*ObjectCounts{}}}
				return s.applyChunk(saveCtx, tx, info, p, chunk, &local)
			})
		}
		if err != nil {
			if runs != nil {
				runs.Store(runsBefore) // rolled back with the chunk
			}
			status = JobFailed
			t.Error = err.Error()
			break
		}
		if runs != nil {
			t.RunsQueued = int(runs.Load())
		}
		t.Processed += local.Processed
		t.Changed += local.Changed
		t.Unchanged += local.Unchanged
		t.Refused += local.Refused
		t.Failed += local.Failed
		for r, n := range local.Reasons {
			t.Reasons[r] += n
		}
		for _, sm := range local.Samples {
			if len(t.Samples) < maxSamples {
				t.Samples = append(t.Samples, sm)
			}
		}
		for name, oc := range local.Objects {
			if p.perObject {
				t.Objects[name].Changed += oc.Changed
				t.Objects[name].Other += oc.Other
			}
		}
		s.saveJob(rec, &t.Job, JobRunning)
	}
	s.saveJob(rec, &t.Job, status)
	return jobOf(rec)
}

// pending is a record of a chunk with the change the job makes to it.
type pending struct {
	tg    *jobTarget
	rec   *core.Record
	set   map[string]any
	del   bool
	group string // collection, action and body: the records whose rule check is one query
}

// applyChunk changes the records of one chunk inside tx, counting the outcomes in t: the
// records are loaded with one query per collection, and the update (or delete) rule is
// checked with one query per collection and distinct change (see allowedIDs).
func (s *Service) applyChunk(ctx context.Context, tx core.App, info *core.RequestInfo, p *plan, chunk []jobTarget, t *tally) error {
	count := func(tg *jobTarget) *ObjectCounts {
		oc := t.Objects[tg.group]
		if oc == nil {
			oc = &ObjectCounts{}
			t.Objects[tg.group] = oc
		}
		return oc
	}
	other := func(tg *jobTarget, kind *int, reason string) {
		*kind++
		count(tg).Other++
		if reason != "" {
			t.reason(tg.coll.Name, tg.id, reason)
		}
	}
	byColl := map[string][]string{}
	colls := map[string]*core.Collection{}
	for _, tg := range chunk {
		byColl[tg.coll.Id] = append(byColl[tg.coll.Id], tg.id)
		colls[tg.coll.Id] = tg.coll
	}
	recs := map[string]*core.Record{}
	for id, ids := range byColl {
		found, err := tx.FindRecordsByIds(colls[id], ids)
		if err != nil {
			return fmt.Errorf("load %s: %w", colls[id].Name, err)
		}
		for _, r := range found {
			recs[id+"/"+r.Id] = r
		}
	}
	var todo []*pending
	groups := map[string][]*pending{}
	for i := range chunk {
		tg := &chunk[i]
		t.Processed++
		rec := recs[tg.coll.Id+"/"+tg.id]
		if rec == nil {
			other(tg, &t.Failed, "deleted since the job started")
			continue
		}
		set, del, err := p.change(rec, tg)
		switch {
		case errors.Is(err, errChangedSince):
			other(tg, &t.Unchanged, err.Error())
			continue
		case err != nil:
			other(tg, &t.Failed, err.Error())
			continue
		case !del && len(set) == 0:
			other(tg, &t.Unchanged, "")
			continue
		}
		body, _ := json.Marshal(set)
		pd := &pending{tg: tg, rec: rec, set: set, del: del, group: fmt.Sprintf("%s\x00%t\x00%s", tg.coll.Id, del, body)}
		todo = append(todo, pd)
		groups[pd.group] = append(groups[pd.group], pd)
	}
	var changes [][]any
	allowed := map[string]map[string]bool{}
	for key, g := range groups {
		ids := make([]string, len(g))
		for i, pd := range g {
			ids[i] = pd.rec.Id
		}
		coll, rule, ri := g[0].tg.coll, g[0].tg.coll.UpdateRule, withBody(info, g[0].set)
		if g[0].del {
			rule, ri = coll.DeleteRule, withMethod(info, "DELETE")
		}
		ok, err := allowedIDs(tx, coll, ri, rule, ids)
		if err != nil {
			return err
		}
		allowed[key] = ok
	}
	for _, pd := range todo {
		tg, rec := pd.tg, pd.rec
		if !allowed[pd.group][rec.Id] {
			if pd.del {
				other(tg, &t.Refused, "your access rules do not let you delete it")
			} else {
				other(tg, &t.Refused, "your access rules do not let you make this change")
			}
			continue
		}
		var err error
		var before map[string]any
		switch {
		case pd.del && p.dryRun:
		case pd.del:
			if err = tx.DeleteWithContext(ctx, rec); err != nil {
				other(tg, &t.Failed, "cannot delete: "+err.Error())
				continue
			}
		default:
			// Nobody links a record they cannot view (as the REST API's check).
			if !isSuperuser(info) {
				if err := schemas.CheckLinks(tx, rec, schemas.Request(info)); err != nil {
					other(tg, &t.Refused, "your access rules do not let you make this change")
					continue
				}
			}
			if p.dryRun {
				err = tx.ValidateWithContext(ctx, rec)
			} else {
				before = beforeOf(rec, pd.set) // the record as loaded, before the save
				err = tx.SaveWithContext(ctx, rec)
			}
			if err != nil {
				other(tg, &t.Failed, "invalid: "+err.Error())
				continue
			}
		}
		t.Changed++
		count(tg).Changed++
		if p.record && !p.dryRun && !pd.del {
			row, err := p.changeRow(rec, before)
			if err != nil {
				return err
			}
			changes = append(changes, row)
		}
	}
	if err := schemas.InsertMany(tx, ChangesBulkCollection, bulkChangeColumns, changes); err != nil {
		return fmt.Errorf("record the previous values: %w", err)
	}
	return nil
}

// allowedIDs returns which of ids (records of coll) info may update or delete by rule: the
// check PocketBase's CanAccessRecord makes for one record (the rule through its resolver,
// with the request body), made for many records in one query.
func allowedIDs(app core.App, coll *core.Collection, info *core.RequestInfo, rule *string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if isSuperuser(info) || (rule != nil && *rule == "") {
		for _, id := range ids {
			out[id] = true
		}
		return out, nil
	}
	if rule == nil {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := app.RecordQuery(coll).Select("[[" + coll.Name + ".id]]").Distinct(true).AndWhere(dbx.In(coll.Name+".id", args...))
	resolver := core.NewRecordFieldResolver(app, coll, info, true)
	expr, err := search.FilterData(*rule).BuildExpr(resolver)
	if err != nil {
		return nil, fmt.Errorf("rule of %s: %w", coll.Name, err)
	}
	if err := resolver.UpdateQuery(q); err != nil {
		return nil, err
	}
	var found []string
	if err := q.AndWhere(expr).Column(&found); err != nil {
		return nil, fmt.Errorf("check the rule of %s: %w", coll.Name, err)
	}
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

func withMethod(info *core.RequestInfo, method string) *core.RequestInfo {
	c := *info
	c.Method = method
	return &c
}

// saveJob writes the counts and status of a job.
func (s *Service) saveJob(rec *core.Record, j *Job, status string) {
	rec.Set("processed", j.Processed)
	rec.Set("changed", j.Changed)
	rec.Set("unchanged", j.Unchanged)
	rec.Set("refused", j.Refused)
	rec.Set("failed", j.Failed)
	rec.Set("reasons", map[string]any{"reasons": j.Reasons, "samples": j.Samples, "runsQueued": j.RunsQueued})
	if j.Objects != nil {
		rec.Set("counts", j.Objects)
	}
	rec.Set("error", j.Error)
	rec.Set("status", status)
	if status != JobRunning {
		rec.Set("finished", types.NowDateTime())
	}
	if err := s.app.Save(rec); err != nil {
		s.app.Logger().Error("relata: bulk job", "job", rec.Id, "error", err)
	}
}

// jobOf reads a job record.
func jobOf(rec *core.Record) *Job {
	j := &Job{
		ID: rec.Id, Kind: rec.GetString("kind"), Object: rec.GetString("object"), Action: rec.GetString("action"),
		Status: rec.GetString("status"), Total: rec.GetInt("total"), Processed: rec.GetInt("processed"),
		Changed: rec.GetInt("changed"), Unchanged: rec.GetInt("unchanged"), Refused: rec.GetInt("refused"),
		Failed: rec.GetInt("failed"), Error: rec.GetString("error"), User: rec.GetString("user"),
		Reasons: map[string]int{}, Samples: []Sample{},
	}
	var params struct {
		DryRun bool `json:"dryRun"`
	}
	_ = rec.UnmarshalJSONField("params", &params)
	j.DryRun = params.DryRun
	var rs struct {
		Reasons    map[string]int `json:"reasons"`
		Samples    []Sample       `json:"samples"`
		RunsQueued int            `json:"runsQueued"`
	}
	if rec.UnmarshalJSONField("reasons", &rs) == nil {
		j.RunsQueued = rs.RunsQueued
		if rs.Reasons != nil {
			j.Reasons = rs.Reasons
		}
		if rs.Samples != nil {
			j.Samples = rs.Samples
		}
	}
	_ = rec.UnmarshalJSONField("counts", &j.Objects)
	return j
}

// interruptJobs marks the jobs a stopped process left running as failed.
func (s *Service) interruptJobs() error {
	_, err := s.app.DB().Update(BulkJobsCollection, dbx.Params{"status": JobFailed, "error": "interrupted: the server stopped while it ran",
		"finished": types.NowDateTime().String()}, dbx.HashExp{"status": JobRunning}).Execute()
	return err
}
