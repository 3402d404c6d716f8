package hooks

import (
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas/audit"
)

// TrashCollection holds a copy of every deleted CRM record for 30 days (migration
// 1764000970_relata_trash; package schemas/trash lists, restores and purges it).
const TrashCollection = "relata_trash"

// trasher copies a CRM record into the trash when it is deleted, in the delete's transaction:
// the copy exists exactly when the delete happened. Deletes by SQL (privacy erasure,
// retention) leave no copy, on purpose.
type trasher struct {
	h   *handlers
	a   *auditor
	now func() time.Time
}

// priorityTrash runs inside the audit hook's transaction (priorityAudit runs first and opens it).
const priorityTrash = priorityAudit + 1

func (tr *trasher) bind(app core.App) {
	app.OnRecordDeleteExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.trash", Priority: priorityTrash, Func: tr.keep})
}

func (tr *trasher) keep(e *core.RecordEvent) error {
	o := tr.h.object(e.Record)
	if o == nil {
		return e.Next()
	}
	actor := tr.a.actorOf(e)
	orig := e.App
	defer func() { e.App = orig }()
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		col, err := tx.FindCachedCollectionByNameOrId(TrashCollection)
		if err != nil {
			return fmt.Errorf("trash: %w", err)
		}
		t := core.NewRecord(col)
		t.Set("object", o.Name)
		t.Set("record", e.Record.Id)
		if o.TitleField != "" {
			title := e.Record.GetString(o.TitleField)
			if len(title) > 300 {
				title = title[:300]
			}
			t.Set("title", title)
		}
		t.Set("data", e.Record.FieldsData())
		if f := o.OwnerField(); f != nil {
			t.Set("owner", e.Record.GetString(f.Name))
		}
		if actor.Kind == audit.KindUser || actor.Kind == audit.KindSuperuser {
			t.Set("deleted_by", actor.ID)
		}
		t.Set("deleted_by_kind", actor.Kind)
		at, _ := types.ParseDateTime(tr.now())
		t.Set("deleted_at", at)
		// Saved without hooks: the trash is not a CRM object, and its copy is not a change to audit.
		return tx.SaveNoValidate(t)
	})
}
