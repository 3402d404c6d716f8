package schemas

import (
	"cmp"
	"context"
	"errors"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/list"
)

// ValidateBeforeWrite does, outside any write transaction, what saving the new record rec
// does before its insert: the create hooks (ids, defaults, normalising, sanitising) and
// PocketBase's validation with its validate hooks, reading through app's read connections.
// It returns what such a save would have refused rec with. SaveValidated then saves rec in
// the write transaction without doing all that again there.
//
// A save validates inside the write transaction, holding SQLite's one writer, which every
// other write waits for: for a timeline activity that was a fifth of the transaction's work,
// mostly one count query per relation field and compiling the id's pattern (BENCHMARKS.md,
// "End-to-end runs against bare creates measured around them; activities validated before the
// write lock").
func ValidateBeforeWrite(ctx context.Context, app core.App, rec *core.Record) error {
	if !rec.IsNew() {
		return errors.New("validate before write: only a new record can be validated before its save")
	}
	ev := &core.RecordEvent{App: app, Context: ctx, Type: core.ModelEventTypeCreate}
	ev.Record = rec
	var verr error
	err := app.OnRecordCreate().Trigger(ev, func(e *core.RecordEvent) error {
		verr = e.App.ValidateWithContext(e.Context, e.Record)
		return nil
	})
	return cmp.Or(err, verr)
}

// SaveValidated saves, through tx (a write transaction), new records that ValidateBeforeWrite
// accepted, in their order. Of their validation only one part depends on data another writer
// may have changed since: that the records their relation fields name exist. SaveValidated
// looks those up again, one read per related collection for all of recs; a record whose
// relations all still resolve is saved without validating again (SaveNoValidate: the create
// hooks, the insert and every hook after it run as in any save); any other record is saved
// with its whole validation, which refuses it as a save would have.
func SaveValidated(tx core.App, recs ...*core.Record) error {
	wanted := map[string]map[string]bool{} // related collection id -> ids named
	for _, r := range recs {
		for _, f := range r.Collection().Fields {
			if rf, ok := f.(*core.RelationField); ok {
				for _, id := range list.ToUniqueStringSlice(r.GetRaw(rf.Name)) {
					if wanted[rf.CollectionId] == nil {
						wanted[rf.CollectionId] = map[string]bool{}
					}
					wanted[rf.CollectionId][id] = false
				}
			}
		}
	}
	for collID, ids := range wanted {
		coll, err := tx.FindCachedCollectionByNameOrId(collID)
		if err != nil {
			continue // the full validation of the records that name it answers
		}
		in := make([]any, 0, len(ids))
		for id := range ids {
			in = append(in, id)
		}
		var found []string
		if err := tx.DB().Select("id").From(coll.Name).Where(dbx.In("id", in...)).Column(&found); err != nil {
			return err
		}
		for _, id := range found {
			ids[id] = true
		}
	}
	for _, r := range recs {
		if resolves(r, wanted) && defaultIDPattern(r.Collection()) {
			if err := tx.SaveNoValidate(r); err != nil {
				return err
			}
		} else if err := tx.Save(r); err != nil {
			return err
		}
	}
	return nil
}

// resolves reports whether every id r's relation fields name was found.
func resolves(r *core.Record, found map[string]map[string]bool) bool {
	for _, f := range r.Collection().Fields {
		if rf, ok := f.(*core.RelationField); ok {
			for _, id := range list.ToUniqueStringSlice(r.GetRaw(rf.Name)) {
				if !found[rf.CollectionId][id] {
					return false
				}
			}
		}
	}
	return true
}

// IDPattern is the pattern of PocketBase's default record ids. With it PocketBase's
// validation only matches a new id; with another it also looks the id up in the table.
const IDPattern = `^[a-z0-9]+$`

// defaultIDPattern reports whether c's ids have PocketBase's default pattern. With another
// pattern PocketBase's validation also looks a new id up in the table, case-insensitively,
// which also depends on the data: such records keep their whole validation in the save.
func defaultIDPattern(c *core.Collection) bool {
	f, ok := c.Fields.GetByName(core.FieldNameId).(*core.TextField)
	return ok && f.Pattern == IDPattern
}
