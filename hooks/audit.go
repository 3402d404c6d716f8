package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
)

// auditor journals an audit entry for every create, update and delete of a CRM record (and of
// a user), in the transaction of the change (package audit chains it into the trail shortly
// after; readers chain first), and refuses every change of the trail itself.
type auditor struct {
	h   *handlers
	now func() time.Time
}

// errAuditReadOnly refuses writes to the trail, also by superusers and Go code.
var errAuditReadOnly = errors.New("the audit trail is append-only: its entries cannot be created, changed or deleted")

func (a *auditor) bind(app core.App) {
	app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.audit-create", Priority: priorityAudit,
		Func: func(e *core.RecordEvent) error { return a.write(e, audit.ActionCreate) }})
	app.OnRecordUpdateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.audit-update", Priority: priorityAudit,
		Func: func(e *core.RecordEvent) error { return a.write(e, audit.ActionUpdate) }})
	app.OnRecordDeleteExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.audit-delete", Priority: priorityAudit,
		Func: func(e *core.RecordEvent) error { return a.write(e, audit.ActionDelete) }})
	// The entries are journaled in the change's transaction and chained shortly after.
	audit.StartChainer(app)
	refuse := func(e *core.RecordEvent) error { return errAuditReadOnly }
	app.OnRecordCreateExecute(audit.Collection).BindFunc(refuse)
	app.OnRecordUpdateExecute(audit.Collection).BindFunc(refuse)
	app.OnRecordDeleteExecute(audit.Collection).BindFunc(refuse)
}

// priorityAudit runs the audit hook outside the other execute hooks, so the entry is written
// after every change they make to the record and in the same transaction.
const priorityAudit = -10

// audited reports whether changes of r are audited: CRM objects and users.
func (a *auditor) audited(r *core.Record) bool {
	return a.h.object(r) != nil || r.Collection().Name == schemas.UsersCollection
}

func (a *auditor) write(e *core.RecordEvent, action string) error {
	if !a.audited(e.Record) {
		return e.Next()
	}
	actor := a.actorOf(e)
	orig := e.App
	defer func() { e.App = orig }()
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		changes := diff(e.Record, action)
		if action == audit.ActionUpdate && len(changes) == 0 {
			return nil // a save that changed nothing
		}
		return audit.Journal(tx, a.now(), actor, e.Record.Collection().Name, e.Record.Id, action, changes)
	})
}

// actorOf says who makes the change: the actor set on the save's context (workflow runs,
// imports, commands), else the signed-in user or superuser of the API request, else the system.
func (a *auditor) actorOf(e *core.RecordEvent) audit.Actor {
	if act, ok := audit.ActorFrom(e.Context); ok {
		return act
	}
	if u := a.h.actor(e.Record); u != nil {
		if u.IsSuperuser() {
			return audit.Actor{Kind: audit.KindSuperuser, ID: u.Id, Via: "api"}
		}
		return audit.Actor{Kind: audit.KindUser, ID: u.Id, Via: "api"}
	}
	return audit.Actor{Kind: audit.KindSystem}
}

// skipped are fields whose changes are bookkeeping, not content.
var skipped = map[string]bool{schemas.FieldLastTouched: true, schemas.FieldUpdated: true, schemas.FieldCreated: true}

// diff returns the changed fields of r: every non-empty field of a new record, the values of
// a deleted one, and the old and new value of each field an update changed. Passwords and
// hidden fields are marked changed without their values.
func diff(r *core.Record, action string) map[string]audit.Change {
	if action != audit.ActionUpdate {
		return audit.Snapshot(r, action)
	}
	out := map[string]audit.Change{}
	old := r.Original()
	for _, f := range r.Collection().Fields {
		name := f.GetName()
		if name == core.FieldNameId || skipped[name] || f.Type() == core.FieldTypeAutodate {
			continue
		}
		before, after := old.Get(name), r.Get(name)
		if same(before, after) {
			continue
		}
		if f.GetHidden() || f.Type() == core.FieldTypePassword {
			out[name] = audit.Change{Redacted: true}
		} else {
			out[name] = audit.Change{Old: before, New: after}
		}
	}
	return out
}

// blank reports whether v holds no value: empty strings and lists, a zero date.
func blank(v any) bool { return audit.Blank(v) }

// same compares two field values by their JSON form (dates, JSON fields, slices), comparing
// the usual types directly: the audit compares every field of every update.
func same(a, b any) bool {
	if blank(a) && blank(b) {
		return true
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return x == y
		}
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	case float64:
		if y, ok := b.(float64); ok {
			return x == y
		}
	case int:
		if y, ok := b.(int); ok {
			return x == y
		}
	case []string:
		if y, ok := b.([]string); ok {
			return slices.Equal(x, y)
		}
	case types.DateTime:
		if y, ok := b.(types.DateTime); ok {
			return x.String() == y.String() // what JSON holds
		}
	}
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
