package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// UndoWindow is how long an import can be undone.
const UndoWindow = 30 * 24 * time.Hour

// UndoResult is the outcome of undoing an import batch.
type UndoResult struct {
	Removed  int `json:"removed"`  // created records deleted
	Restored int `json:"restored"` // updated records given their old values back
	// Skipped lists the records left alone, with the reason (changed since the import,
	// already deleted).
	Skipped []string `json:"skipped"`
}

// Undo reverts import batch id: records it created are deleted and records it updated get
// their previous values back, newest change first. A record changed since the import is
// left alone and reported. as is the CRM user undoing (nil: a superuser); their delete and
// update rules apply.
func (s *Service) Undo(id string, as *core.Record) (*UndoResult, error) {
	batch, err := s.app.FindRecordById(BatchesCollection, id)
	if err != nil {
		return nil, fmt.Errorf("no import batch %q", id)
	}
	if batch.GetString("status") == "undone" {
		return nil, fmt.Errorf("import batch %s was already undone on %s", id, batch.GetDateTime("undone_at").Time().Format(time.RFC3339))
	}
	if age := time.Since(batch.GetDateTime("created").Time()); age > UndoWindow {
		return nil, fmt.Errorf("import batch %s is %d days old; imports can be undone for %d days", id, int(age.Hours()/24), int(UndoWindow.Hours()/24))
	}
	info := caller(as, "DELETE")
	var changes []*core.Record
	if err := s.app.RecordQuery(ChangesCollection).AndWhere(dbx.HashExp{"batch": id}).OrderBy("seq DESC").All(&changes); err != nil {
		return nil, err
	}
	// One step per record, newest first: a record the batch created is deleted (whatever the
	// batch did to it later); a record it updated gets, for each field, the value it had
	// before the batch first changed it. Only the newest change's stamp must match.
	type step struct {
		object, record, stamp string
		created               bool
		before                map[string]any
	}
	var steps []*step
	byRecord := map[string]*step{}
	at := func(object, record, stamp string) *step {
		key := object + "/" + record
		st := byRecord[key]
		if st == nil {
			st = &step{object: object, record: record, stamp: stamp, before: map[string]any{}}
			byRecord[key] = st
			steps = append(steps, st)
		}
		return st
	}
	for _, c := range changes { // newest first
		switch c.GetString("action") {
		case "created":
			at(c.GetString("object"), c.GetString("record"), c.GetString("stamp")).created = true
		case "created_many":
			// Records created one after the other (writeChanges): [[id, stamp], ...] in
			// creation order, so newest first is from the end.
			var pairs [][2]string
			if err := json.Unmarshal([]byte(c.GetString("before")), &pairs); err != nil {
				return nil, fmt.Errorf("change %s: %w", c.Id, err)
			}
			for i := len(pairs) - 1; i >= 0; i-- {
				at(c.GetString("object"), pairs[i][0], pairs[i][1]).created = true
			}
		case "updated":
			st := at(c.GetString("object"), c.GetString("record"), c.GetString("stamp"))
			var before map[string]any
			if err := json.Unmarshal([]byte(c.GetString("before")), &before); err != nil {
				return nil, fmt.Errorf("change %s: %w", c.Id, err)
			}
			for k, v := range before {
				st.before[k] = v // older changes come later and win
			}
		}
	}
	ctx := schemas.WithoutTriggers(context.Background())
	res := &UndoResult{Skipped: []string{}}
	err = s.app.RunInTransaction(func(tx core.App) error {
		for _, st := range steps {
			object, recID := st.object, st.record
			rec, err := tx.FindRecordById(object, recID)
			if err != nil {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s %s: deleted since the import", object, recID))
				continue
			}
			if rec.GetDateTime("updated").String() != st.stamp {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s %s: changed since the import (at %s), left as it is", object, recID, rec.GetDateTime("updated").String()))
				continue
			}
			if st.created {
				if ok, err := canDelete(tx, info, rec); err != nil || !ok {
					res.Skipped = append(res.Skipped, fmt.Sprintf("%s %s: you may not delete it", object, recID))
					continue
				}
				if err := tx.DeleteWithContext(ctx, rec); err != nil {
					return fmt.Errorf("delete %s %s: %w", object, recID, err)
				}
				res.Removed++
				continue
			}
			for k, v := range st.before {
				rec.Set(k, v)
			}
			if ok, err := canUpdate(tx, info, rec, st.before); err != nil || !ok {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s %s: you may not update it", object, recID))
				continue
			}
			if err := tx.SaveWithContext(ctx, rec); err != nil {
				return fmt.Errorf("restore %s %s: %w", object, recID, err)
			}
			res.Restored++
		}
		batch.Set("status", "undone")
		batch.Set("undone_at", types.NowDateTime())
		return tx.Save(batch)
	})
	if err != nil {
		return nil, errors.Join(errors.New("undo failed, nothing was changed"), err)
	}
	return res, nil
}
