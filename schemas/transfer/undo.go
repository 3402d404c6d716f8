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

// ImportLease is how long after an import last committed rows its batch, still "running",
// counts as being written: Undo refuses it until then. Each chunk of an import (BatchSize
// rows, well under a minute) renews it; an import whose process died leaves its batch
// running, and the lease lets that batch be undone after a while.
const ImportLease = 10 * time.Minute

// undoChunk is how many records one transaction of an undo goes through. PocketBase keeps
// every record a transaction deletes or saves (for the hooks it runs after the commit) until
// that transaction ends: one transaction for the whole batch held about 12 KB a record (1.2
// GB for 100,000).
var undoChunk = 1000

// UndoResult is the outcome of undoing an import batch.
type UndoResult struct {
	Removed  int `json:"removed"`  // created records deleted
	Restored int `json:"restored"` // updated records given their old values back
	// Skipped lists the records left alone, with the reason (changed since the import,
	// already deleted).
	Skipped []string `json:"skipped"`
	// Resumed is how many of the batch's records an earlier undo, stopped midway, had already
	// been through; this one continued after them.
	Resumed int `json:"resumed,omitempty"`
}

// undoStep is what undo does to one record: delete it (the batch created it) or give its
// fields the values they had before the batch first changed them. Only the newest change's
// stamp must match.
type undoStep struct {
	object, record, stamp string
	created               bool
	before                map[string]any
}

// Undo reverts import batch id: records it created are deleted and records it updated get
// their previous values back, newest change first. A record changed since the import is
// left alone and reported. as is the CRM user undoing (nil: a superuser); their delete and
// update rules apply.
//
// The records are undone in transactions of undoChunk records; each commits with the
// batch's progress (undo_done), so an undo stopped by an error or a crash keeps what it
// committed and the next Undo of the batch continues after it. Two undos of one batch at
// once cannot both change it: a chunk commits only if the progress is still the one it
// started from.
func (s *Service) Undo(id string, as *core.Record) (*UndoResult, error) {
	batch, err := s.app.FindRecordById(BatchesCollection, id)
	if err != nil {
		return nil, fmt.Errorf("no import batch %q", id)
	}
	if batch.GetString("status") == "undone" {
		return nil, fmt.Errorf("import batch %s was already undone on %s", id, batch.GetDateTime("undone_at").Time().Format(time.RFC3339))
	}
	if batch.GetString("status") == "running" {
		// The import may still be adding rows: an undo now would read the batch's changes so
		// far and leave the later ones behind.
		last := batch.GetDateTime("updated").Time()
		if free := last.Add(ImportLease); time.Now().Before(free) {
			return nil, fmt.Errorf("import batch %s is still running (it last committed rows at %s): undo it once it has finished; if its process stopped without finishing, it can be undone from %s on",
				id, last.UTC().Format(time.RFC3339), free.UTC().Format(time.RFC3339))
		}
	}
	if age := time.Since(batch.GetDateTime("created").Time()); age > UndoWindow {
		return nil, fmt.Errorf("import batch %s is %d days old; imports can be undone for %d days", id, int(age.Hours()/24), int(UndoWindow.Hours()/24))
	}
	info := caller(as, "DELETE")
	steps, err := s.undoSteps(id)
	if err != nil {
		return nil, err
	}
	done := batch.GetInt("undo_done")
	if done > len(steps) {
		return nil, fmt.Errorf("import batch %s: its undo went through %d records, but it has %d", id, done, len(steps))
	}
	res := &UndoResult{Skipped: []string{}, Resumed: done}
	ctx := schemas.WithoutTriggers(context.Background())
	for start := done; ; start += undoChunk {
		end := min(start+undoChunk, len(steps))
		chunk := &UndoResult{Skipped: []string{}}
		err := s.app.RunInTransaction(func(tx core.App) error {
			if err := claimUndoChunk(tx, id, start, end, end == len(steps)); err != nil {
				return err
			}
			return undoChunkSteps(ctx, tx, info, steps[start:end], chunk)
		})
		if err != nil {
			if start == 0 {
				return nil, errors.Join(errors.New("undo failed, nothing was changed"), err)
			}
			return nil, errors.Join(fmt.Errorf("undo stopped after %d of the batch's %d records; what was undone stays undone, and undoing the batch again continues from there", start, len(steps)), err)
		}
		res.Removed += chunk.Removed
		res.Restored += chunk.Restored
		res.Skipped = append(res.Skipped, chunk.Skipped...)
		if end == len(steps) {
			return res, nil
		}
	}
}

// claimUndoChunk moves the batch's undo progress from start to end in tx, and marks the batch
// undone with the last chunk. It fails if the progress is no longer start: another undo of
// the batch went on meanwhile.
func claimUndoChunk(tx core.App, id string, start, end int, last bool) error {
	now := types.NowDateTime()
	set := dbx.Params{"undo_done": end, "updated": now.String()}
	if last {
		set["status"] = "undone"
		set["undone_at"] = now.String()
	}
	r, err := tx.DB().Update(BatchesCollection, set, dbx.And(dbx.HashExp{"id": id, "undo_done": start},
		dbx.Not(dbx.HashExp{"status": "undone"}))).Execute()
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("import batch %s is being undone by another request, or was undone", id)
	}
	return nil
}

// undoChunkSteps undoes steps in tx, counting into res.
func undoChunkSteps(ctx context.Context, tx core.App, info *core.RequestInfo, steps []*undoStep, res *UndoResult) error {
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
	return nil
}

// undoSteps reads the changes of batch id and returns one step per record, newest first: a
// record the batch created is deleted (whatever the batch did to it later); a record it
// updated gets, for each field, the value it had before the batch first changed it. The
// steps depend on the batch's changes only, so an undo that continues an earlier one finds
// them in the same order.
func (s *Service) undoSteps(id string) ([]*undoStep, error) {
	var changes []*core.Record
	if err := s.app.RecordQuery(ChangesCollection).AndWhere(dbx.HashExp{"batch": id}).OrderBy("seq DESC").All(&changes); err != nil {
		return nil, err
	}
	var steps []*undoStep
	byRecord := map[string]*undoStep{}
	at := func(object, record, stamp string) *undoStep {
		key := object + "/" + record
		st := byRecord[key]
		if st == nil {
			st = &undoStep{object: object, record: record, stamp: stamp}
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
			if st.before == nil {
				st.before = map[string]any{}
			}
			for k, v := range before {
				st.before[k] = v // older changes come later and win
			}
		}
	}
	return steps, nil
}
