package hooks

import (
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows"
)

// triggers queues workflow runs in the transaction of the record change that causes them.
type triggers struct {
	h   *handlers
	eng *workflows.Engine
	// queued holds the records whose save queued runs, until the transaction ends: only
	// they wake the engine (a change no workflow's condition holds for wakes nobody).
	queued sync.Map // *core.Record -> struct{}
}

func (t *triggers) bind(app core.App) {
	app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.enqueue-create", Func: func(e *core.RecordEvent) error { return t.enqueue(e, workflows.Created) }})
	app.OnRecordUpdateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.enqueue-update", Func: func(e *core.RecordEvent) error { return t.enqueue(e, workflows.Updated) }})
	app.OnRecordDeleteExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.enqueue-delete", Func: func(e *core.RecordEvent) error { return t.enqueue(e, workflows.Deleted) }})
	wake := func(e *core.RecordEvent) error {
		if _, ok := t.queued.LoadAndDelete(e.Record); ok {
			t.eng.Wake()
		}
		return e.Next()
	}
	forget := func(e *core.RecordErrorEvent) error {
		t.queued.Delete(e.Record)
		return e.Next()
	}
	app.OnRecordAfterCreateSuccess().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.wake-create", Func: wake})
	app.OnRecordAfterUpdateSuccess().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.wake-update", Func: wake})
	app.OnRecordAfterDeleteSuccess().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.wake-delete", Func: wake})
	app.OnRecordAfterCreateError().Bind(&hook.Handler[*core.RecordErrorEvent]{Id: "relata.hooks.wake-create-error", Func: forget})
	app.OnRecordAfterUpdateError().Bind(&hook.Handler[*core.RecordErrorEvent]{Id: "relata.hooks.wake-update-error", Func: forget})
	app.OnRecordAfterDeleteError().Bind(&hook.Handler[*core.RecordErrorEvent]{Id: "relata.hooks.wake-delete-error", Func: forget})
}

func eventKind(modelEvent string) workflows.EventKind {
	switch modelEvent {
	case core.ModelEventTypeCreate:
		return workflows.Created
	case core.ModelEventTypeUpdate:
		return workflows.Updated
	}
	return workflows.Deleted
}

// enqueue wraps the record's write in a transaction and queues the triggered runs in it —
// only when an enabled workflow listens to this object and event, so saving records that no
// workflow cares about costs one map lookup. Saves made with schemas.WithoutTriggers (imports
// without --workflows) queue nothing.
func (t *triggers) enqueue(e *core.RecordEvent, kind workflows.EventKind) error {
	if t.h.object(e.Record) == nil || !t.eng.Listens(e.Record.Collection().Name, kind) || schemas.TriggersSuppressed(e.Context) {
		return e.Next()
	}
	actor := t.h.actor(e.Record)
	orig := e.App
	defer func() { e.App = orig }()
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		n, err := t.eng.Enqueue(tx, workflows.Event{Kind: kind, Record: e.Record, Actor: actor, Ctx: e.Context})
		if n > 0 && err == nil {
			t.queued.Store(e.Record, struct{}{})
			schemas.CountRuns(e.Context, n)
		}
		return err
	})
}
