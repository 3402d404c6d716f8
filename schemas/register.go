package schemas

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/spf13/cobra"
)

// Config configures the object model.
type Config struct {
	// Dir is the directory of the deployment's object definitions (*.json). Default: ""
	// (DefaultDir when it holds definitions, else the embedded default CRM model, see
	// [Defaults]).
	Dir string
	// DefaultDir is where the definitions live when Dir is not set: `relata init` and
	// `relata schema export` write there, and once it holds *.json files they are the
	// definitions. main sets it to pb_schemas beside the data directory. Default: "" (none).
	DefaultDir string
	// MigrationsDir, when set, receives a Go migration file for every applied schema change.
	// Default: "" (changes are recorded only in the relata_schema_changes collection).
	MigrationsDir string
	// NoAutoApply stops `serve` from applying the definitions when it starts; the database is
	// used as it is and `relata schema apply` applies changes. Default: false (apply additive
	// changes at start and refuse to start on destructive ones).
	NoAutoApply bool
	// WatchInterval is how often a serving process looks for schema changes other processes
	// made to its database (`relata schema apply` while the server runs) and refreshes the
	// model. Default: 1s; negative: never.
	WatchInterval time.Duration
}

// Registry is the live object model: the definitions from files merged with what admins
// changed in the PocketBase dashboard. It is safe for concurrent use.
type Registry struct {
	app core.App
	cfg Config

	// rebuild serialises Reload and Refresh: two at once (the watcher's tick and a dashboard
	// edit's hook) could publish the older of the two models last, and the watcher's reload of
	// PocketBase's collection cache could put an older cache back under the hook's refresh.
	rebuild sync.Mutex

	mu        sync.RWMutex
	defs      []*Object      // as loaded from the files, then as last applied by any process
	objects   []*Object      // merged with the database, sorted by name
	listeners []func()       // called after a refresh the watcher made
	onLoad    []func() error // called after Sync or Open loaded the model

	stopWatch chan struct{}
	watching  sync.WaitGroup
}

// Register adds the object model to app and, if rootCmd is set, the "schema" and "seed"
// commands. When the server starts, the definitions are loaded, applied (see [Config]) and
// merged with the database; dashboard edits of object collections refresh the model.
func Register(app core.App, rootCmd *cobra.Command, cfg Config) (*Registry, error) {
	r := &Registry{app: app, cfg: cfg}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.schemas.sync",
		Priority: -100, // before every feature that reads the model
		Func: func(e *core.ServeEvent) error {
			if err := r.Sync(); err != nil {
				return err
			}
			r.startWatch()
			return e.Next()
		},
	})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id: "relata.schemas.unwatch",
		Func: func(e *core.TerminateEvent) error {
			r.stopWatching()
			return e.Next()
		},
	})
	refresh := func(e *core.CollectionEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if r.loaded() && !strings.HasPrefix(e.Collection.Name, "_") {
			// Reload, not Refresh: it reads the collections again from the database, where
			// this change is committed, whatever a concurrent reload left in the cache.
			if err := r.Reload(); err != nil {
				app.Logger().Warn("relata: cannot refresh the object model", "collection", e.Collection.Name, "error", err)
			}
			// A date or email field added in the dashboard gets its derived index (time
			// triggers walk dates by one, address lookups compare lower-cased emails by one).
			if o, ok := r.Object(e.Collection.Name); ok && e.Type != core.ModelEventTypeDelete {
				if c, err := e.App.FindCollectionByNameOrId(e.Collection.Id); err == nil && addMissingDerivedIndexes(c, o) {
					if err := e.App.Save(c); err != nil {
						app.Logger().Warn("relata: cannot index a new date or email field", "collection", c.Name, "error", err)
					}
				}
			}
		}
		return nil
	}
	app.OnCollectionAfterCreateSuccess().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.schemas.refresh-create", Func: refresh})
	app.OnCollectionAfterUpdateSuccess().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.schemas.refresh-update", Func: refresh})
	app.OnCollectionAfterDeleteSuccess().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.schemas.refresh-delete", Func: refresh})
	if rootCmd != nil {
		rootCmd.AddCommand(r.newSchemaCommand(), r.newSeedCommand(), r.newRatesCommand(), r.newInitCommand())
	}
	if r.cfg.WatchInterval == 0 {
		r.cfg.WatchInterval = time.Second
	}
	return r, nil
}

// OnLoad registers fn to be called each time [Registry.Sync] or [Registry.Open] has loaded
// the model, in `serve` and in the commands alike: a feature that reads files checked
// against the model (score definitions) reads them then. An error of fn is theirs.
func (r *Registry) OnLoad(fn func() error) {
	r.mu.Lock()
	r.onLoad = append(r.onLoad, fn)
	r.mu.Unlock()
}

// loadedNow tells the OnLoad functions.
func (r *Registry) loadedNow() error {
	r.mu.RLock()
	fns := slices.Clone(r.onLoad)
	r.mu.RUnlock()
	for _, fn := range fns {
		if err := fn(); err != nil {
			return err
		}
	}
	return nil
}

// OnChange registers fn to be called after the model was refreshed because the database's
// collections or applied definitions changed (in this process or another). The workflow
// engine recompiles its workflows then.
func (r *Registry) OnChange(fn func()) {
	r.mu.Lock()
	r.listeners = append(r.listeners, fn)
	r.mu.Unlock()
}

func (r *Registry) startWatch() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.WatchInterval < 0 || r.stopWatch != nil {
		return
	}
	r.stopWatch = make(chan struct{})
	r.watching.Add(1)
	go r.watch("", r.stopWatch) // the first tick reloads: nothing changed while starting is missed
}

func (r *Registry) stopWatching() {
	r.mu.Lock()
	stop := r.stopWatch
	r.stopWatch = nil
	r.mu.Unlock()
	if stop != nil {
		close(stop)
		r.watching.Wait()
	}
}

// watch polls a cheap change stamp of the collections and the applied definitions; when it
// moves, another process (or this one) changed the schema: the model is rebuilt from what
// the database now holds.
func (r *Registry) watch(last string, stop <-chan struct{}) {
	defer r.watching.Done()
	t := time.NewTicker(r.cfg.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !r.app.IsBootstrapped() {
			return // the app was closed without terminating (tests)
		}
		last = r.refreshIfChanged(last)
	}
}

// refreshIfChanged reloads the model when the stamp moved from last, tells the listeners,
// and returns the stamp the model now reflects.
func (r *Registry) refreshIfChanged(last string) (now string) {
	defer func() {
		if x := recover(); x != nil { // a database closed under the watcher
			now = last
		}
	}()
	st, err := r.stamp()
	if err != nil || st == last {
		return last
	}
	if err := r.Reload(); err != nil {
		r.app.Logger().Warn("relata: cannot refresh the object model after a schema change", "error", err)
		return last // try again at the next tick
	}
	r.mu.RLock()
	fns := slices.Clone(r.listeners)
	r.mu.RUnlock()
	for _, fn := range fns {
		fn()
	}
	return st
}

// stamp changes whenever a collection or an applied definition is created, changed or
// deleted.
func (r *Registry) stamp() (string, error) {
	db := r.app.DB()
	if db == nil {
		return "", errors.New("the database is closed")
	}
	var s string
	err := db.NewQuery(`SELECT
		(SELECT count(*) || '/' || ifnull(max(updated), '') FROM _collections) || '|' ||
		(SELECT count(*) || '/' || ifnull(max(updated), '') FROM ` + StateCollection + `)`).Row(&s)
	return s, err
}

// Reload rebuilds the model after another process changed the schema: it drops PocketBase's
// cached collections, takes the definitions as last applied (by whichever process) over the
// loaded files, and merges them with the database.
func (r *Registry) Reload() error {
	r.rebuild.Lock()
	defer r.rebuild.Unlock()
	if err := r.app.ReloadCachedCollections(); err != nil {
		return err
	}
	applied, err := appliedDefinitions(r.app)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defs := make([]*Object, 0, len(r.defs)+len(applied))
	seen := map[string]bool{}
	for _, d := range r.defs {
		if a, ok := applied[d.Name]; ok {
			d = a
		}
		seen[d.Name] = true
		defs = append(defs, d)
	}
	for name, a := range applied {
		if !seen[name] {
			defs = append(defs, a)
		}
	}
	slices.SortFunc(defs, func(a, b *Object) int { return strings.Compare(a.Name, b.Name) })
	r.defs = defs
	r.mu.Unlock()
	return r.refresh()
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, rootCmd *cobra.Command, cfg Config) *Registry {
	r, err := Register(app, rootCmd, cfg)
	if err != nil {
		panic(err)
	}
	return r
}

// Source returns the file system the definitions are read from.
func (r *Registry) Source() fs.FS {
	if dir := r.Dir(); dir != "" {
		return os.DirFS(dir)
	}
	return Defaults()
}

// Dir returns the directory the definitions are read from: [Config.Dir], else
// [Config.DefaultDir] when it holds *.json files, else "" for the embedded defaults.
func (r *Registry) Dir() string {
	if r.cfg.Dir != "" {
		return r.cfg.Dir
	}
	if r.cfg.DefaultDir != "" && holdsDefinitions(r.cfg.DefaultDir) {
		return r.cfg.DefaultDir
	}
	return ""
}

// homeDir is where `relata init` and `relata schema export` write by default: the directory
// the definitions are (or, once written, will be) read from.
func (r *Registry) homeDir() string {
	if r.cfg.Dir != "" {
		return r.cfg.Dir
	}
	return r.cfg.DefaultDir
}

func holdsDefinitions(dir string) bool {
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	return len(names) > 0
}

func (r *Registry) sourceName() string {
	if dir := r.Dir(); dir != "" {
		return dir
	}
	return "embedded defaults"
}

// Definitions loads and validates the definition files.
func (r *Registry) Definitions() ([]*Object, error) {
	objs, err := Load(r.Source())
	if err != nil {
		return nil, fmt.Errorf("object definitions in %s:\n%w", r.sourceName(), err)
	}
	return objs, nil
}

// Sync loads the definitions, applies them unless [Config.NoAutoApply] is set (refusing
// destructive or conflicting changes), and builds the merged model.
func (r *Registry) Sync() error {
	defs, err := r.Definitions()
	if err != nil {
		return err
	}
	if !r.cfg.NoAutoApply {
		p, err := NewPlan(r.app, defs)
		if err != nil {
			return err
		}
		applied, err := Apply(r.app, p, ApplyOptions{MigrationsDir: r.cfg.MigrationsDir, Source: r.sourceName()})
		if err != nil {
			return err
		}
		for _, c := range applied.Changes {
			r.app.Logger().Info("relata: schema", "change", c.String())
		}
	}
	r.mu.Lock()
	r.defs = defs
	r.mu.Unlock()
	if err := r.Refresh(); err != nil {
		return err
	}
	return r.loadedNow()
}

// Open loads the definitions and builds the merged model without applying anything: for
// commands that only read records through the model.
func (r *Registry) Open() error {
	defs, err := r.Definitions()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.defs = defs
	r.mu.Unlock()
	if err := r.Refresh(); err != nil {
		return err
	}
	return r.loadedNow()
}

func (r *Registry) loaded() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.defs != nil
}

// Refresh rebuilds the merged model from the loaded definitions and the database.
func (r *Registry) Refresh() error {
	r.rebuild.Lock()
	defer r.rebuild.Unlock()
	return r.refresh()
}

// refresh is Refresh with r.rebuild held.
func (r *Registry) refresh() error {
	r.mu.RLock()
	defs := r.defs
	r.mu.RUnlock()
	objs, err := Merge(r.app, defs)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.objects = objs
	r.mu.Unlock()
	return nil
}

// Objects returns every object of the model, sorted by name. The objects must not be modified.
func (r *Registry) Objects() []*Object {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.objects)
}

// ActivityObject returns the object whose records are activities (tasks, calls, emails on
// timelines): "activities" when several are, else the first; nil when none is.
func (r *Registry) ActivityObject() *Object {
	var found *Object
	for _, o := range r.Objects() {
		if !o.Activity {
			continue
		}
		if o.Name == "activities" {
			return o
		}
		if found == nil {
			found = o
		}
	}
	return found
}

// Object returns the named object, or nil and false.
func (r *Registry) Object(name string) (*Object, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, o := range r.objects {
		if o.Name == name {
			return o, true
		}
	}
	return nil, false
}

// ObjectNames returns the names of every object, sorted.
func (r *Registry) ObjectNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, len(r.objects))
	for i, o := range r.objects {
		names[i] = o.Name
	}
	return names
}

// Merge returns the live model: each definition with the fields and settings admins added or
// changed in the dashboard, plus base collections created in the dashboard that look like
// objects. Fields the database does not have (not applied yet) are left out.
func Merge(app core.App, defs []*Object) ([]*Object, error) {
	applied, err := appliedDefinitions(app)
	if err != nil {
		return nil, err
	}
	nameOf := func(id string) string {
		c, err := app.FindCachedCollectionByNameOrId(id)
		if err != nil {
			return ""
		}
		return c.Name
	}
	var out []*Object
	known := map[string]bool{}
	for _, def := range defs {
		known[def.Name] = true
		coll, err := app.FindCachedCollectionByNameOrId(def.Name)
		if err != nil {
			continue // not applied: not part of the live model
		}
		out = append(out, mergeObject(def, coll, nameOf))
	}
	colls, err := app.FindAllCollections(core.CollectionTypeBase)
	if err != nil {
		return nil, err
	}
	for _, c := range colls {
		if known[c.Name] || c.System || strings.HasPrefix(c.Name, "_") || strings.HasPrefix(c.Name, "relata_") ||
			slices.Contains(ReservedObjectNames, c.Name) {
			continue
		}
		if _, wasApplied := applied[c.Name]; wasApplied {
			continue // dropped from the files but not yet from the database
		}
		if o := objectFromCollection(c, nameOf); o != nil {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b *Object) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func mergeObject(def *Object, coll *core.Collection, nameOf func(string) string) *Object {
	o := def.Clone()
	var fields []*Field
	for _, f := range o.Fields {
		col := coll.Fields.GetByName(f.Name)
		if col == nil {
			continue
		}
		refreshField(f, col)
		fields = append(fields, f)
	}
	for _, col := range coll.Fields {
		name := col.GetName()
		if slices.Contains(systemColumns, name) || def.Field(name) != nil {
			continue
		}
		if strings.HasSuffix(name, CurrencySuffix) {
			if base := def.Field(strings.TrimSuffix(name, CurrencySuffix)); base != nil && base.Type == TypeCurrency {
				continue
			}
		}
		if f := fieldFromColumn(col, nameOf); f != nil {
			fields = append(fields, f)
		}
	}
	o.Fields = fields
	return o
}

// objectFromCollection describes a base collection an admin created in the dashboard as an
// object, or returns nil when it has no field that could be its title.
func objectFromCollection(c *core.Collection, nameOf func(string) string) *Object {
	o := &Object{Name: c.Name, Label: Label{Singular: humanize(c.Name), Plural: humanize(c.Name)}, Access: Access{Scope: ScopeAll}}
	for _, col := range c.Fields {
		if slices.Contains(systemColumns, col.GetName()) {
			continue
		}
		if f := fieldFromColumn(col, nameOf); f != nil {
			o.Fields = append(o.Fields, f)
			if o.TitleField == "" && slices.Contains(titleTypes, f.Type) {
				o.TitleField = f.Name
			}
		}
	}
	if o.TitleField == "" {
		return nil
	}
	return o
}
