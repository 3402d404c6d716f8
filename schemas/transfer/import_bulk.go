package transfer

import (
	"context"
	"fmt"
	"regexp"
	"sync"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
)

// The bulk path of imports: records an import creates are written in groups of bulkFlushAt
// by one prepared single-row INSERT ([schemas.InsertEach]) instead of one Save each, which
// costs most of a Save (a statement built and parsed per record, the audit hook's statement,
// a relation existence query per relation field).
//
// What a Save does is still done, by the same code where it is not the write itself:
//   - the create hooks (OnRecordCreate: PocketBase's field interceptors, Relata's defaults,
//     e-mail normalisation and rich text sanitiser, and any other) run on every record;
//   - every field is validated by PocketBase's own validators, except the existence query of
//     relations whose ids the import itself resolved (lookup or created record); the unique
//     fields are checked against the rows queued (at once) and the stored records (one query
//     per field and write, before it: a clash fails that row only). Nothing grows with the
//     file: memory stays flat however many rows it has;
//   - the audit entry of each record is the one the audit hook writes ([audit.Snapshot]),
//     appended in order with [audit.AppendMany], attributed to the import batch.
//
// It is used only when the execute hooks of the object write nothing else: workflows off
// (--workflows saves each row, so each triggers once), no stage field (stage history) and
// not an activity (last touched). Other rows (updates, those objects) are saved one by one.
type bulk struct {
	pending []pendingRec
	queued  map[string]bool                // ids of pending records and of those the writer has not yet written
	keys    map[string]string              // key values of the records in queued -> their ids
	uniques map[string]map[string]struct{} // unique field -> values of the pending records
	// uniqueNames are the unique fields, read by the writer (uniques is the importer's).
	uniqueNames []string
}

// pendingRec is a new record waiting for its chunk's write, with its row.
type pendingRec struct {
	rec   *core.Record
	n     int
	cells []string
	// pre and body are the record as submitted (before the hooks) and its values, for the
	// create rule of a user's import, checked for the whole group (nil for a superuser).
	pre  *core.Record
	body map[string]any
	// data are the record's column values (DBExport), entry its audit entry's changes as
	// stored (encoded here, on the importer's goroutine).
	data  map[string]any
	entry *audit.Encoded
	key   string // its key value (keyOf), with --key
	// idFrom says where its id came from: idGiven (the file or a hook: checked against the
	// stored records like a unique value), idOrdered (newID: checked by one range read a
	// group), idRandom (PocketBase's random generator: unchecked, as a save does).
	idFrom idSource
}

type idSource uint8

const (
	idGiven idSource = iota
	idOrdered
	idRandom
)

// bulkFlushAt is how many pending records are written at once, within a chunk.
const bulkFlushAt = 500

// useBulk reports whether the object's new records may take the bulk path.
func (im *importer) useBulk() bool {
	if im.opts.Workflows || im.obj.Activity {
		return false
	}
	for _, f := range im.obj.Fields {
		if f.Type == schemas.TypeStage || f.Type == schemas.TypeFile {
			return false
		}
	}
	for _, f := range im.coll.Fields {
		if f.Type() == core.FieldTypeFile || f.Type() == core.FieldTypePassword {
			return false
		}
	}
	return true
}

// initUniques lists the object's unique fields. The key is one too: rows match stored
// records through im.keys, but a key the import did not match (a stored record the importer
// may not see) must fail its row, not the chunk's insert.
func (im *importer) initUniques() {
	im.bulk.uniques = map[string]map[string]struct{}{}
	for _, f := range im.obj.Fields {
		if f.Unique {
			im.bulk.uniques[f.Name] = map[string]struct{}{}
			im.bulk.uniqueNames = append(im.bulk.uniqueNames, f.Name)
		}
	}
	// The id too, against the stored records only (newID never repeats one within the
	// import): a time-ordered id another import drew in the same millisecond, or an id the
	// file gave that a record holds, fails its row (storedClashes).
	im.bulk.uniqueNames = append(im.bulk.uniqueNames, core.FieldNameId)
}

// bulkCreate prepares rec (not saved) as a Save would and queues it for the chunk's write.
// resolved are the relation fields whose ids the import resolved.
func (im *importer) bulkCreate(tx core.App, rec *core.Record, resolved map[string]bool, n int, cells []string, body map[string]any) []*Error {
	var pre *core.Record
	if !isSuperuser(im.info) {
		pre = rec.Clone()
	}
	ev := &core.RecordEvent{App: tx, Context: im.ctx, Type: core.ModelEventTypeCreate}
	ev.Record = rec
	var verrs validation.Errors
	generatedID := rec.Id == ""
	idFrom := idGiven
	if generatedID {
		// An id of the shape the id field's interceptor would generate ([a-z0-9]{15}),
		// growing with time (newID), without parsing the pattern for every row.
		if idf, ok := rec.Collection().Fields.GetByName(core.FieldNameId).(*core.TextField); ok && idf.AutogeneratePattern == defaultIDPattern {
			rec.Id, idFrom = im.newID()
		}
	}
	err := tx.OnRecordCreate().Trigger(ev, func(e *core.RecordEvent) error {
		verrs = validateNew(e, resolved, generatedID)
		return nil
	})
	if err != nil {
		return im.saveErrors(n, err)
	}
	if len(verrs) > 0 {
		return im.saveErrors(n, verrs)
	}
	for name, set := range im.bulk.uniques {
		if k := keyString(rec.GetRaw(name)); k != "" {
			if _, dup := set[k]; dup {
				return []*Error{im.uniqueErr(n, name, k)}
			}
		}
	}
	if rec.Id == "" {
		rec.Id, idFrom = core.GenerateDefaultRandomId(), idRandom
	} else if idFrom == idOrdered && generatedID && rec.Id != im.lastID {
		idFrom = idGiven // a hook replaced it
	}
	now := types.NowDateTime() // what the autodate fields' execute interceptor sets
	for _, f := range rec.Collection().Fields {
		if af, ok := f.(*core.AutodateField); ok && af.OnCreate {
			rec.SetRaw(af.Name, now)
		}
	}
	for name, set := range im.bulk.uniques {
		if k := keyString(rec.GetRaw(name)); k != "" {
			set[k] = struct{}{}
		}
	}
	// The insert's values and the audit entry's changes are made here, while the writer
	// writes the previous group: it only binds them.
	data, err := rec.DBExport(tx)
	if err != nil {
		return []*Error{im.cellErr(n, nil, fmt.Sprintf("export %s: %v", im.coll.Name, err))}
	}
	data["id"] = rec.Id
	entry, err := audit.Encode(audit.Snapshot(rec, audit.ActionCreate))
	if err != nil {
		return []*Error{im.cellErr(n, nil, fmt.Sprintf("audit entry: %v", err))}
	}
	rec.MarkAsNotNew()
	im.bulk.pending = append(im.bulk.pending, pendingRec{rec: rec, n: n, cells: cells, pre: pre, body: body, data: data, entry: entry, idFrom: idFrom})
	im.bulk.queued[rec.Id] = true
	return nil
}

// validateNew runs PocketBase's field validators on a new record, as onRecordValidate does,
// without the existence query of the relations the import resolved (their min, max and
// required checks still run) and the pattern check of an id PocketBase generated.
func validateNew(e *core.RecordEvent, resolved map[string]bool, generatedID bool) validation.Errors {
	errs := validation.Errors{}
	for _, f := range e.Record.Collection().Fields {
		var err error
		if rf, ok := f.(*core.RelationField); ok && resolved[rf.Name] {
			err = relationCounts(rf, e.Record)
		} else if tf, ok := f.(*core.TextField); ok && tf.PrimaryKey && generatedID {
			continue // PocketBase's generator made it from the field's own pattern
		} else if ok && !tf.PrimaryKey && tf.Pattern != "" {
			err = validateText(tf, e.Record)
		} else {
			err = f.ValidateValue(e.Context, e.App, e.Record)
		}
		if err != nil {
			errs[f.GetName()] = err
		}
	}
	return errs
}

// defaultIDPattern is the autogenerate pattern of PocketBase's default id field.
const defaultIDPattern = "[a-z0-9]{15}"

// patterns holds the compiled patterns of text fields: TextField.ValidatePlainValue compiles
// its pattern on every call (regexp.MatchString), a third of a row's validation.
var textPatterns sync.Map // pattern -> *regexp.Regexp or error

// validateText is TextField.ValidateValue for a field with a pattern (not the primary key),
// with the pattern compiled once: PocketBase's own check without the pattern, then the
// pattern, with PocketBase's error.
func validateText(f *core.TextField, r *core.Record) error {
	v, ok := r.GetRaw(f.Name).(string)
	if !ok {
		return f.ValidateValue(context.Background(), nil, r) // its own error for the type
	}
	plain := *f
	plain.Pattern = ""
	if err := plain.ValidatePlainValue(v); err != nil || v == "" {
		return err
	}
	re, ok := textPatterns.Load(f.Pattern)
	if !ok {
		c, err := regexp.Compile(f.Pattern)
		if err != nil {
			re = err
		} else {
			re = c
		}
		textPatterns.Store(f.Pattern, re)
	}
	if c, ok := re.(*regexp.Regexp); !ok || !c.MatchString(v) {
		return validation.NewError("validation_invalid_format", "Invalid value format.")
	}
	return nil
}

// relationCounts is RelationField.ValidateValue without the query of the related records.
func relationCounts(f *core.RelationField, r *core.Record) error {
	ids := r.GetStringSlice(f.Name)
	if len(ids) == 0 {
		if f.Required {
			return validation.ErrRequired
		}
		return nil
	}
	if f.MinSelect > 0 && len(ids) < f.MinSelect {
		return validation.NewError("validation_not_enough_values", "Select at least {{.minSelect}}").
			SetParams(map[string]any{"minSelect": f.MinSelect})
	}
	if maxSelect := max(f.MaxSelect, 1); len(ids) > maxSelect {
		return validation.NewError("validation_too_many_values", "Select no more than {{.maxSelect}}").
			SetParams(map[string]any{"maxSelect": maxSelect})
	}
	return nil
}

func (im *importer) columnOf(field string) *column {
	for _, c := range im.cols {
		if c.field.Name == field && !c.currency {
			return c
		}
	}
	return nil
}
