package hooks

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows"
)

// Config configures the record hooks.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// Engine, when set, receives record events as workflow triggers. Default: nil (no
	// workflows).
	Engine *workflows.Engine
}

// Register binds the record hooks of every CRM object to app. Objects added later (in files
// or the dashboard) are covered too: handlers look the collection up in the registry.
func Register(app core.App, cfg Config) error {
	if cfg.Registry == nil {
		return errors.New("hooks: Config.Registry is required")
	}
	h := &handlers{reg: cfg.Registry}
	bindSanitize(app)
	bindAccess(app)
	app.OnRecordCreateRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "relata.hooks.actor-create", Func: h.rememberActor})
	app.OnRecordUpdateRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "relata.hooks.actor-update", Func: h.rememberActor})
	app.OnRecordDeleteRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "relata.hooks.actor-delete", Func: h.rememberActor})
	// Before PocketBase's create hook (priority -99), which draws a random id.
	app.OnRecordCreate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.ordered-id", Priority: -100, Func: h.orderedID})
	app.OnRecordCreate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.defaults", Func: h.defaults})
	app.OnRecordCreate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.normalize-create", Func: h.normalize})
	app.OnRecordUpdate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.normalize-update", Func: h.normalize})
	app.OnRecordCreateRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "relata.hooks.default-owner", Func: h.defaultOwner})
	app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.touch-create", Func: h.touch})
	app.OnRecordUpdateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.touch-update", Func: h.touch})
	au := &auditor{h: h, now: time.Now}
	au.bind(app)
	(&trasher{h: h, a: au, now: time.Now}).bind(app)
	h.bindConsents(app)
	bindRefusals(app, cfg.Registry)
	sh := &stageHistory{h: h}
	app.OnRecordValidate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.stage-pipeline", Func: h.checkStagePipeline})
	app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.stage-history-create", Func: sh.record})
	app.OnRecordUpdateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.stage-history-update", Func: sh.record})
	(&notifications{h: h}).bind(app)
	h.bindFormDuplicates(app)
	if cfg.Engine != nil {
		(&triggers{h: h, eng: cfg.Engine}).bind(app)
		bindForms(app, cfg.Engine)
	}
	return nil
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, cfg Config) {
	if err := Register(app, cfg); err != nil {
		panic(err)
	}
}

type handlers struct {
	reg *schemas.Registry
	// actors remembers the signed-in user of a request while its record is saved: PocketBase
	// saves API records with a background context, so model hooks cannot see the request.
	actors sync.Map // *core.Record -> *core.Record
}

func (h *handlers) rememberActor(e *core.RecordRequestEvent) error {
	if e.Auth == nil {
		return e.Next()
	}
	h.actors.Store(e.Record, e.Auth)
	defer h.actors.Delete(e.Record)
	return e.Next()
}

// actor returns the signed-in user (or superuser) saving r through the API, or nil.
func (h *handlers) actor(r *core.Record) *core.Record {
	if a, ok := h.actors.Load(r); ok {
		return a.(*core.Record)
	}
	return nil
}

func (h *handlers) object(r *core.Record) *schemas.Object {
	o, _ := h.reg.Object(r.Collection().Name)
	return o
}

// defaults fills empty fields of a new record with their definition's default value, and
// the currency of currency fields.
func (h *handlers) defaults(e *core.RecordEvent) error {
	o := h.object(e.Record)
	if o == nil {
		return e.Next()
	}
	now := time.Now()
	for _, f := range o.Fields {
		if f.Type == schemas.TypeCurrency && f.Currency != "" && e.Record.GetString(f.Name+schemas.CurrencySuffix) == "" {
			e.Record.Set(f.Name+schemas.CurrencySuffix, f.Currency)
		}
		if f.Type == schemas.TypeStage && f.PipelineField != "" && isEmpty(e.Record.Get(f.Name)) {
			// A record in another pipeline than the field's own starts in that pipeline's first stage.
			if p := o.RecordPipeline(f, e.Record.GetString(f.PipelineField)); p != nil && p.Name != f.Pipeline && len(p.Stages) > 0 {
				e.Record.Set(f.Name, p.Stages[0].Name)
				continue
			}
		}
		if f.Default == nil || !isEmpty(e.Record.Get(f.Name)) {
			continue
		}
		v := f.Default
		if f.Type == schemas.TypeDate || f.Type == schemas.TypeDateTime {
			s, _ := v.(string)
			d, err := schemas.ResolveDate(s, now)
			if err != nil {
				return fmt.Errorf("default of %s.%s: %w", o.Name, f.Name, err)
			}
			v = d
		}
		e.Record.Set(f.Name, v)
	}
	return e.Next()
}

// orderedID gives a new record of a CRM object that comes without an id a time-ordered one
// (schemas.OrderedID) instead of PocketBase's random one, when its collection's id field is
// PocketBase's default, whose pattern ([a-z0-9]{15}) the ordered ids follow. It runs before
// PocketBase's own create hook, which draws the random id. Every index on the id — the
// primary key, and the relation indexes of the records that point at it (the tasks, runs,
// emails and audit entries of a new contact) — then takes new records near its end, on pages
// a group commit writes once, instead of on a random page each (BENCHMARKS.md, "Claims join
// the group commit; every new record gets a time-ordered id"). A client that sends its own id
// keeps it; RELATA_RANDOM_IDS=1 turns it off (schemas.OrderedID).
func (h *handlers) orderedID(e *core.RecordEvent) error {
	if e.Record.Id == "" && h.object(e.Record) != nil && defaultIDField(e.Record.Collection()) {
		e.Record.Id = schemas.OrderedID()
	}
	return e.Next()
}

// defaultIDField reports whether new records of c may get a time-ordered id (schemas.OrderedID)
// instead of PocketBase's random one: when c's id field is PocketBase's default, whose
// pattern ([a-z0-9]{15}) the ordered ids follow.
func defaultIDField(c *core.Collection) bool {
	f, ok := c.Fields.GetByName(core.FieldNameId).(*core.TextField)
	return ok && f.AutogeneratePattern == `[a-z0-9]{15}`
}

// normalize stores email addresses trimmed and lower-cased, so that lookups by email (form
// deduplication, unique indexes) match however an address was typed.
func (h *handlers) normalize(e *core.RecordEvent) error {
	if o := h.object(e.Record); o != nil {
		for _, f := range o.Fields {
			if f.Type == schemas.TypeEmail {
				if v := e.Record.GetString(f.Name); v != "" {
					e.Record.Set(f.Name, strings.ToLower(strings.TrimSpace(v)))
				}
			}
		}
	}
	return e.Next()
}

// defaultOwner makes the signed-in CRM user the owner of a record created without one.
func (h *handlers) defaultOwner(e *core.RecordRequestEvent) error {
	o := h.object(e.Record)
	if o == nil || e.Auth == nil || e.Auth.Collection().Name != schemas.UsersCollection {
		return e.Next()
	}
	if of := o.OwnerField(); of != nil && e.Record.GetString(of.Name) == "" {
		e.Record.Set(of.Name, e.Auth.Id)
	}
	return e.Next()
}

// touch sets last_touched on every record an activity links to, in the activity's own
// database write (transaction, when there is one).
func (h *handlers) touch(e *core.RecordEvent) error {
	o := h.object(e.Record)
	if o == nil || !o.Activity {
		return e.Next()
	}
	if err := e.Next(); err != nil {
		return err
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
	for _, f := range o.Fields {
		if f.Type != schemas.TypeRelation {
			continue
		}
		target, ok := h.reg.Object(f.Target)
		if !ok || target.Activity {
			continue
		}
		ids := e.Record.GetStringSlice(f.Name)
		if len(ids) == 0 {
			continue
		}
		vals := make([]any, len(ids))
		for i, id := range ids {
			vals[i] = id
		}
		_, err := e.App.DB().Update(target.Name, dbx.Params{schemas.FieldLastTouched: now}, dbx.In("id", vals...)).Execute()
		if err != nil {
			return fmt.Errorf("touch %s %v: %w", target.Name, ids, err)
		}
	}
	return nil
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
