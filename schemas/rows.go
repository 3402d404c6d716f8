package schemas

import (
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// RecordsFromRows builds the records of coll from whole rows read with a statement PocketBase's
// record queries cannot express (an UPDATE … RETURNING * that claims rows), as
// app.FindRecordsByIds would load them: every field's value prepared by the field, the
// record not new (a later Save updates it). A claim that returns its rows saves the second
// statement that loaded them by id.
func RecordsFromRows(coll *core.Collection, rows []dbx.NullStringMap) ([]*core.Record, error) {
	recs := make([]*core.Record, len(rows))
	for i, row := range rows {
		rec := core.NewRecord(coll)
		for _, f := range coll.Fields {
			name := f.GetName()
			var raw any
			if s, ok := row[name]; ok && s.Valid {
				raw = s.String
			}
			// As PocketBase loads a row: the field prepares the value, no setter runs (an
			// autodate field's setter would refuse it).
			v, err := f.PrepareValue(rec, raw)
			if err != nil {
				return nil, fmt.Errorf("%s field %s: %w", coll.Name, name, err)
			}
			rec.SetRaw(name, v)
		}
		if rec.Id == "" {
			return nil, fmt.Errorf("%s: a row without an id", coll.Name)
		}
		if err := rec.PostScan(); err != nil {
			return nil, fmt.Errorf("%s %s: %w", coll.Name, rec.Id, err)
		}
		recs[i] = rec
	}
	return recs, nil
}
