package scoring

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// engagementCollection holds the campaign events of contacts (workflows/campaigns), which
// behaviour rules count as activities (see [EngagementPrefix]).
const engagementCollection = "campaign_events"

// bindFollow makes the behaviour points of a score follow what happens: when an activity, or
// a campaign event of a contact, is created, changed or deleted, the records it concerns —
// before and after, when it moved — are queued to be scored again, and saved if their score
// or grade changed. The queue is worked off behind the writes (rescoreQueued): a merge that
// moves 4,000 activities, or an import of a record's history, scores the record once or
// twice, not once per activity. A score is advice: a failure to score is logged and never
// stops the activity's write; the daily run corrects what a crash left unscored.
func (s *Service) bindFollow(app core.App) {
	follow := func(e *core.RecordEvent) error { return s.follow(e) }
	app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.scoring.follow-create", Func: follow})
	app.OnRecordUpdateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.scoring.follow-update", Func: follow})
	app.OnRecordDeleteExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.scoring.follow-delete", Func: follow})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id: "relata.scoring.follow-flush",
		Func: func(e *core.TerminateEvent) error {
			// A command's last activities are scored before it ends (an import of 20,000
			// meetings leaves about 4 s of them): say so when it will take a moment.
			switch n, all, max := s.queued(); {
			case len(all) > 0:
				fmt.Fprintf(os.Stderr, "scoring every record of %s (the activities written concern more than %d)…\n", strings.Join(all, ", "), max)
			case n >= 1000:
				fmt.Fprintf(os.Stderr, "scoring the %d records the last activities written concern…\n", n)
			}
			s.Flush()
			return e.Next()
		},
	})
}

// followed is a record whose score counts a written activity.
type followed struct{ object, id string }

// queue holds the records waiting to be scored again after an activity's write.
type queue struct {
	mu      sync.Mutex
	idle    sync.Cond // signalled when the worker stops
	pending map[followed]context.Context
	order   []followed
	working bool
	// overflow names the objects of records left out of a full queue: the worker scores
	// all their records once the queue is empty.
	overflow map[string]bool
	max      int // the queue's bound (maxQueued; tests lower it)
}

// maxQueued bounds the queue. Past it a record is not queued, its object is marked, and the
// worker then scores every record of the object a page at a time ([RunRules]): an import of
// a million activities keeps its memory flat (a queued record costs about 100 bytes).
const maxQueued = 50_000

func (s *Service) follow(e *core.RecordEvent) error {
	s.mu.RLock()
	sets := s.rules
	s.mu.RUnlock()
	if len(sets) == 0 {
		return e.Next() // every write passes here: most deployments score nothing
	}
	links := s.countedLinks(sets, e.Record.Collection().Name)
	if len(links) == 0 {
		return e.Next()
	}
	var targets []followed
	add := func(rec *core.Record) {
		for field, object := range links {
			if id := rec.GetString(field); id != "" && !slices.Contains(targets, followed{object, id}) {
				targets = append(targets, followed{object, id})
			}
		}
	}
	add(e.Record)
	if e.Type == core.ModelEventTypeUpdate {
		// Where it was: the stored row (the record's Original is only what it was loaded with).
		if stored, err := e.App.FindRecordById(e.Record.Collection(), e.Record.Id); err == nil {
			add(stored)
		}
	}
	if err := e.Next(); err != nil {
		return err
	}
	// The save of a score carries the writer's context, without its end (a request's ends with
	// its response): a workflow's depth, so a workflow reacting to a new score cannot loop
	// through activities without end.
	ctx := context.Background()
	if e.Context != nil {
		ctx = context.WithoutCancel(e.Context)
	}
	s.enqueue(targets, ctx)
	return nil
}

// enqueue queues targets and starts the worker if it is not running. The worker's
// transaction waits for the writer, so it reads what the activity's write left — committed,
// or rolled back — never the state before it.
func (s *Service) enqueue(targets []followed, ctx context.Context) {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == nil {
		q.pending = map[followed]context.Context{}
		q.idle.L = &q.mu
	}
	if q.max == 0 {
		q.max = maxQueued
	}
	for _, t := range targets {
		if _, ok := q.pending[t]; !ok {
			if len(q.order) >= q.max {
				if q.overflow == nil {
					q.overflow = map[string]bool{}
				}
				q.overflow[t.object] = true
				continue
			}
			q.order = append(q.order, t)
		}
		q.pending[t] = ctx
	}
	if !q.working {
		q.working = true
		go s.rescoreQueued(s.app) // the app, not the writer's transaction
	}
}

// rescoreEvery is how many queued records one transaction of the worker scores.
const rescoreEvery = 100

// rescoreQueued scores the queued records again until the queue is empty, a transaction per
// rescoreEvery records, and saves those whose score or grade changed.
func (s *Service) rescoreQueued(app core.App) {
	q := &s.queue
	for {
		q.mu.Lock()
		n := min(len(q.order), rescoreEvery)
		if n == 0 && len(q.overflow) > 0 {
			objects := q.overflow
			q.overflow = nil
			q.mu.Unlock()
			s.rescoreObjects(app, objects)
			continue
		}
		if n == 0 {
			q.working = false
			q.idle.Broadcast()
			q.mu.Unlock()
			return
		}
		batch := slices.Clone(q.order[:n])
		ctxs := make([]context.Context, n)
		for i, t := range batch {
			ctxs[i] = q.pending[t]
			delete(q.pending, t)
		}
		q.order = q.order[n:]
		q.mu.Unlock()

		if err := app.RunInTransaction(func(tx core.App) error {
			for i, t := range batch {
				s.rescoreOne(tx, t, ctxs[i])
			}
			return nil
		}); err != nil {
			app.Logger().Warn("scoring: rescore after activities", "records", n, "error", err)
		}
	}
}

// rescoreObjects scores every record of objects with their rule sets (after a full queue).
func (s *Service) rescoreObjects(app core.App, objects map[string]bool) {
	s.mu.RLock()
	sets := s.rules
	s.mu.RUnlock()
	for _, rs := range sets {
		if !objects[rs.Object] {
			continue
		}
		run, err := RunRules(app, s.reg, rs, RunOptions{Apply: true})
		if err != nil {
			app.Logger().Error("scoring: rescore after many activities", "score", rs.Name, "error", err)
		}
		if run != nil {
			app.Logger().Info("scoring: rescored after many activities", "score", rs.Name, "records", run.Records, "updated", run.Changed)
		}
	}
}

// rescoreOne scores t again through tx and saves it if its score or grade changed.
func (s *Service) rescoreOne(tx core.App, t followed, ctx context.Context) {
	rec, err := tx.FindRecordById(t.object, t.id)
	if err != nil {
		return // deleted, or never there
	}
	changed, err := s.rescore(tx, rec)
	if err != nil {
		tx.Logger().Warn("scoring: rescore after an activity", "object", t.object, "record", t.id, "error", err)
		return
	}
	if !changed {
		return
	}
	if err := tx.SaveWithContext(context.WithValue(ctx, scoredKey{}, true), rec); err != nil {
		tx.Logger().Warn("scoring: save a score after an activity", "object", t.object, "record", t.id, "error", err)
	}
}

// queued is how many records wait to be scored again, the objects whose records will all be
// scored (the queue was full), and the queue's bound.
func (s *Service) queued() (n int, all []string, max int) {
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	for o := range s.queue.overflow {
		all = append(all, o)
	}
	slices.Sort(all)
	return len(s.queue.order), all, s.queue.max
}

// Flush waits until the records queued by activity writes are scored.
func (s *Service) Flush() {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.working {
		q.idle.Wait()
	}
}

// countedLinks returns the fields of collection name that make its rows count in the
// behaviour rules of sets, with the object each links to — as loadActivities and
// loadEngagement read them: single relations of activity objects, and the contact of
// campaign events.
func (s *Service) countedLinks(sets []*RuleSet, name string) map[string]string {
	counted := map[string]bool{}
	for _, rs := range sets {
		if slices.ContainsFunc(rs.Rules, func(r Rule) bool { return r.Activity != "" }) {
			counted[rs.Object] = true
		}
	}
	links := map[string]string{}
	if name == engagementCollection {
		if counted["contacts"] {
			links["contact"] = "contacts"
		}
		return links
	}
	if o, ok := s.reg.Object(name); ok && o.Activity {
		for _, f := range o.Fields {
			if f.Type == schemas.TypeRelation && !f.Multiple && counted[f.Target] {
				links[f.Name] = f.Target
			}
		}
	}
	return links
}
