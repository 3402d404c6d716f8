package hooks

import (
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
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
		// Who links to it, before PocketBase's delete unlinks them.
		links, err := linksTo(tx, e.Record)
		if err != nil {
			return fmt.Errorf("trash: links to %s: %w", e.Record.Id, err)
		}
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
		t.Set("links", links)
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

// Link is a record's relation field that held a deleted record's id.
type Link struct {
	Collection string `json:"collection"`
	Record     string `json:"record"`
	Field      string `json:"field"`
}

// linksTo lists the records whose relation fields hold r's id.
func linksTo(app core.App, r *core.Record) ([]Link, error) {
	refs, err := app.FindCachedCollectionReferences(r.Collection())
	if err != nil {
		return nil, err
	}
	links := []Link{}
	for col, fields := range refs {
		if col.IsView() {
			continue
		}
		for _, f := range fields {
			column := col.Name + "." + f.GetName()
			q := app.RecordQuery(col)
			if mv, ok := f.(core.MultiValuer); !ok || !mv.IsMultiple() {
				q.AndWhere(dbx.HashExp{column: r.Id})
			} else {
				q.AndWhere(dbx.Exists(dbx.NewExp(fmt.Sprintf("SELECT 1 FROM %s {{__je__}} WHERE [[__je__.value]]={:jevalue}",
					dbutils.JSONEach(column)), dbx.Params{"jevalue": r.Id})))
			}
			if col.Id == r.Collection().Id {
				q.AndWhere(dbx.Not(dbx.HashExp{col.Name + ".id": r.Id}))
			}
			var ids []string // the ids only: a company may have 100,000 contacts
			if err := q.Select(col.Name + ".id").Column(&ids); err != nil {
				return nil, err
			}
			for _, id := range ids {
				links = append(links, Link{Collection: col.Name, Record: id, Field: f.GetName()})
			}
		}
	}
	return links, nil
}
