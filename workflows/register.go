package workflows

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/sandbox"
)

// Config configures the engine.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// Workers is how many runs execute at once. Default: 2.
	Workers int
	// MaxDepth bounds chains of workflows triggering workflows: a change made by a run of depth
	// MaxDepth triggers nothing, and a skipped run records why. Default: 5.
	MaxDepth int
	// MaxChainRuns bounds a chain of workflows in breadth, as MaxDepth does in depth: the runs
	// descended from one run no workflow caused (a user's save, a schedule, a form) are at
	// most MaxChainRuns; past it, a change made by one of the chain's runs triggers nothing,
	// and each run it would have queued is recorded as skipped with why (chain.go).
	// Default: DefaultMaxChainRuns (10,000).
	MaxChainRuns int
	// MaxAttempts is how often a failing step is tried before its run goes dead. Default: 5.
	MaxAttempts int
	// RetryBase is the first retry delay; each further attempt doubles it (with jitter).
	// Default: 10s.
	RetryBase time.Duration
	// PollInterval is how often idle workers look for due runs (waits, retries, crashed
	// runs); new runs wake them at once. Default: 1s.
	PollInterval time.Duration
	// Lease is how long a worker owns a running run; a run still "running" after its lease
	// (its worker crashed) is resumed by another. Default: 5m.
	Lease time.Duration
	// Dir, when set, is a directory of workflow definition files imported at start.
	// Default: "" (none).
	Dir string
	// WebhookAllow lists host names, IP addresses or CIDR ranges that webhooks may call
	// although they are loopback, link-local, private or otherwise internal addresses.
	// Default: none.
	WebhookAllow []string
	// WatchInterval is how often the server looks for workflow changes other processes made
	// to its database (`relata workflow import` while it runs) and recompiles. Default: 1s;
	// negative: never.
	WatchInterval time.Duration
	// ScriptTimeout bounds one script action. Default: 1s.
	ScriptTimeout time.Duration
	// DryRunTimeout bounds a dry run (POST /api/relata/workflows/test, `relata workflow
	// test`): it runs every step, of every item of a for_each, in one transaction, which holds
	// the database's only writer, so every save waits for it. A dry run still going after it
	// stops and says so. Default: 5s.
	DryRunTimeout time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// Engine runs workflows. Build it with [Register].
type Engine struct {
	app core.App
	reg *schemas.Registry
	cfg Config

	mu     sync.RWMutex
	byName map[string]*Workflow
	index  map[indexKey][]*Workflow // record triggers by (object, event)
	timed  []*Workflow              // schedule, date and dormant triggers

	sandbox *sandbox.Sandbox
	wake    chan struct{}
	events  chan struct{} // wakes eventLoop
	stop    chan struct{}
	wg      sync.WaitGroup
	running bool

	webhooks *webhookClient // built once from Config.WebhookAllow
	ticking  atomic.Bool    // a minute tick is running
	// groupFallbacks counts groups of runs (RunBatch) that failed and ran one by one.
	groupFallbacks atomic.Int64
	// loose is set when runs that only runNext takes may be waiting for a worker that was
	// woken: a run queued again (Retry), or more after the one runNext just took.
	loose atomic.Bool
}

// Register adds the workflow engine to app and, if rootCmd is set, the "workflow" command.
// Workers start with the server and stop when it terminates; definitions are checked
// whenever a workflows record is saved.
func Register(app core.App, rootCmd *cobra.Command, cfg Config) (*Engine, error) {
	if cfg.Registry == nil {
		return nil, errors.New("workflows: Config.Registry is required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = 5
	}
	if cfg.MaxChainRuns <= 0 {
		cfg.MaxChainRuns = DefaultMaxChainRuns
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 10 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.DryRunTimeout <= 0 {
		cfg.DryRunTimeout = 5 * time.Second
	}
	if cfg.ScriptTimeout <= 0 {
		cfg.ScriptTimeout = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = time.Second
	}
	webhooks, err := newWebhookClient(cfg.WebhookAllow)
	if err != nil {
		return nil, fmt.Errorf("workflows: Config.WebhookAllow: %w", err)
	}
	e := &Engine{
		app:     app,
		reg:     cfg.Registry,
		cfg:     cfg,
		byName:  map[string]*Workflow{},
		index:   map[indexKey][]*Workflow{},
		wake:    make(chan struct{}, 1),
		events:  make(chan struct{}, 1),
		sandbox: sandbox.New(sandbox.Timeout(cfg.ScriptTimeout)),
	}
	e.webhooks = webhooks
	cfg.Registry.OnChange(func() {
		// Fields may have come or gone: compile every workflow against the new model.
		if err := e.Load(); err != nil {
			app.Logger().Error("relata: reload workflows after a schema change", "error", err)
		}
	})
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.workflows.start",
		Priority: -90, // after the object model is in sync
		Func: func(se *core.ServeEvent) error {
			if err := e.start(); err != nil {
				return err
			}
			e.routes(se)
			return se.Next()
		},
	})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id: "relata.workflows.stop",
		Func: func(te *core.TerminateEvent) error {
			e.Stop()
			return te.Next()
		},
	})
	app.OnRecordCreate(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.workflows.check-create", Func: e.checkRecord})
	app.OnRecordUpdate(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.workflows.check-update", Func: e.checkRecord})
	reload := func(re *core.RecordEvent) error {
		if err := re.Next(); err != nil {
			return err
		}
		e.reloadOne(re.Record, re.Type == core.ModelEventTypeDelete)
		return nil
	}
	app.OnRecordAfterCreateSuccess(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.workflows.reload-create", Func: reload})
	app.OnRecordAfterUpdateSuccess(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.workflows.reload-update", Func: reload})
	app.OnRecordAfterDeleteSuccess(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.workflows.reload-delete", Func: reload})
	if rootCmd != nil {
		rootCmd.AddCommand(e.newCommand())
	}
	return e, nil
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, rootCmd *cobra.Command, cfg Config) *Engine {
	e, err := Register(app, rootCmd, cfg)
	if err != nil {
		panic(err)
	}
	return e
}

// Collection names of the engine.
const (
	Collection      = "workflows"
	RunsCollection  = "workflow_runs"
	StepsCollection = "workflow_steps"
)

// checkRecord validates a workflows record before it is saved: the definition must pass the
// JSON Schema and compile against the object model, enabled or not.
func (e *Engine) checkRecord(re *core.RecordEvent) error {
	d, err := e.definitionOf(re.Record)
	if err == nil {
		_, err = e.Compile(re.Record.GetString("name"), d)
	}
	if err != nil {
		return validation.Errors{"definition": validation.NewError("invalid_workflow", err.Error())}
	}
	re.Record.Set("object", d.Object)
	if re.Record.GetBool("enabled") && (re.Record.IsNew() || !re.Record.Original().GetBool("enabled")) {
		re.Record.Set("enabled_at", e.cfg.Now().UTC())
	}
	return re.Next()
}

// definitionOf reads the stored definition of a workflows record; the record's name,
// description and enabled columns win over the JSON's.
func (e *Engine) definitionOf(rec *core.Record) (*Definition, error) {
	raw := rec.Get("definition")
	data, err := jsonBytes(raw)
	if err != nil {
		return nil, err
	}
	obj, err := withRecordColumns(data, rec)
	if err != nil {
		return nil, schemas.Errors{{File: rec.GetString("name"), Message: err.Error()}}.Err()
	}
	return Parse(rec.GetString("name"), obj)
}

// start loads the workflows, recovers runs a crashed process left running, registers the
// minute tick and starts the workers.
func (e *Engine) start() error {
	if err := e.Load(); err != nil {
		return err
	}
	if err := e.recover(); err != nil {
		return err
	}
	if e.cfg.Dir != "" {
		if _, err := e.ImportDir(e.cfg.Dir); err != nil {
			return fmt.Errorf("import workflows from %s: %w", e.cfg.Dir, err)
		}
	}
	e.app.Cron().MustAdd("relata_workflows_tick", "* * * * *", func() {
		// A tick that queues very many runs (a first tick over a million records) may take
		// longer than a minute: the next one waits for the minute after it ends.
		if !e.ticking.CompareAndSwap(false, true) {
			e.app.Logger().Warn("relata: workflow tick skipped: the previous tick is still running")
			return
		}
		defer e.ticking.Store(false)
		if err := e.Tick(e.cfg.Now()); err != nil {
			e.app.Logger().Error("relata: workflow tick", "error", err)
		}
	})
	e.Start()
	return nil
}

// Start starts the worker pool (the server does this; tests may too).
func (e *Engine) Start() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		return
	}
	e.running = true
	e.stop = make(chan struct{})
	for i := 0; i < e.cfg.Workers; i++ {
		e.wg.Add(1)
		go e.worker()
	}
	e.wg.Add(1)
	go e.eventLoop(e.stop)
	if e.cfg.WatchInterval > 0 {
		e.wg.Add(1)
		go e.watch(e.stop)
	}
}

// watch reloads the workflows when the workflows collection changed behind the engine's
// back: another process (the CLI) imported, edited or deleted definitions. The stamp (count
// and latest update) costs one indexed query a second.
func (e *Engine) watch(stop <-chan struct{}) {
	defer e.wg.Done()
	last := "" // the first tick reloads: a change made while the server started is not missed
	t := time.NewTicker(e.cfg.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !e.app.IsBootstrapped() {
			return // the app was closed without terminating (tests)
		}
		last = e.reloadIfChanged(last)
	}
}

// reloadIfChanged reloads the workflows when the stamp moved from last and returns the stamp
// the loaded workflows reflect.
func (e *Engine) reloadIfChanged(last string) (now string) {
	defer func() {
		if x := recover(); x != nil { // a database closed under the watcher
			now = last
		}
	}()
	st, err := e.stamp()
	if err != nil || st == last {
		return last
	}
	if err := e.Load(); err != nil {
		e.app.Logger().Error("relata: reload workflows changed by another process", "error", err)
		return last
	}
	return st
}

func (e *Engine) stamp() (string, error) {
	db := e.app.DB()
	if db == nil {
		return "", errors.New("the database is closed")
	}
	var s string
	err := db.NewQuery("SELECT count(*) || '/' || ifnull(max(updated), '') FROM " + Collection).Row(&s)
	return s, err
}

// Stop stops the workers and waits for the runs they execute to reach a step boundary.
func (e *Engine) Stop() {
	e.mu.Lock()
	if !e.running {
		e.mu.Unlock()
		return
	}
	e.running = false
	close(e.stop)
	e.mu.Unlock()
	e.wg.Wait()
}

// Wake tells idle workers that runs were queued (and the engine that a change stored a
// workflow event whose runs it is to write).
func (e *Engine) Wake() {
	select {
	case e.events <- struct{}{}:
	default:
	}
	e.wakeWorkers()
}

func (e *Engine) wakeWorkers() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Registry returns the object model the engine works with.
func (e *Engine) Registry() *schemas.Registry { return e.reg }

// recover hands the runs that were "running" when the previous process died back to the
// queue. Only one process serves a data directory, so at start no run is really running; the
// lease would expire anyway, this just avoids waiting for it. Completed steps are not repeated.
func (e *Engine) recover() error {
	res, err := e.app.DB().Update(RunsCollection,
		dbx.Params{"status": StatusPending, "lease_until": "", "next_at": dbTime(e.cfg.Now())},
		dbx.HashExp{"status": StatusRunning}).Execute()
	if err != nil {
		return fmt.Errorf("recover interrupted runs: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		e.app.Logger().Info("relata: resuming workflow runs interrupted by a crash", "runs", n)
	}
	return nil
}
