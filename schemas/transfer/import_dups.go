package transfer

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/dedupe"
)

// ImportDuplicate is a record an import created (or, in a dry run, would create) that may
// duplicate a record that was there before: its row, the new record, its best match.
type ImportDuplicate struct {
	Row           int             `json:"row,omitempty"`
	ID            string          `json:"id"`
	Title         string          `json:"title"`
	Existing      string          `json:"existing"`
	ExistingTitle string          `json:"existingTitle"`
	Score         float64         `json:"score"`
	Reasons       []dedupe.Reason `json:"reasons,omitempty"`
}

// checkDuplicate checks the record row n creates against the records that were there before
// the import, by the object's default duplicate rules that an index bounds
// ([dedupe.CheckIndexed]: normalised email, name at the same company), among the records the
// importer may view; the best match is kept in the result. Only the first
// ImportOptions.DuplicateCheck created rows are checked: each check is one indexed query.
// Records the import itself created (rows repeated in the file) are left out.
func (im *importer) checkDuplicate(tx core.App, rec *core.Record, n int) error {
	if im.res.DuplicatesChecked >= im.opts.DuplicateCheck {
		return nil
	}
	im.res.DuplicatesChecked++
	c := schemas.System
	if !isSuperuser(im.info) {
		c = schemas.User(im.opts.As)
	}
	values := dedupe.RecordValues(im.obj, dedupe.DefaultRules(im.obj), rec)
	im.probes = append(im.probes, dupProbe{row: n, id: rec.Id, title: rec.GetString(im.obj.TitleField), values: values})
	matches, err := dedupe.CheckIndexed(tx, c, im.obj, nil, values, rec.Id)
	if err != nil {
		// A duplicate check is advice: it never fails the row; the summary says it failed.
		if !im.dupCheckFailed {
			im.dupCheckFailed = true
			im.res.Warnings = append(im.res.Warnings, im.cellErr(n, nil, "the duplicate check failed: "+err.Error()))
		}
		return nil
	}
	if len(matches) == 0 {
		return nil
	}
	ids := make([]any, len(matches))
	for i, m := range matches {
		ids[i] = m.ID
	}
	var before []string
	if err := tx.DB().Select("id").From(im.coll.Name).
		Where(dbx.And(dbx.In("id", ids...), dbx.NewExp("[["+schemas.FieldCreated+"]] < {:started}", dbx.Params{"started": im.started.String()}))).
		Column(&before); err != nil {
		return err
	}
	for _, m := range matches { // best first
		for _, id := range before {
			if id == m.ID {
				im.res.Duplicates = append(im.res.Duplicates, ImportDuplicate{Row: n, ID: rec.Id, Title: rec.GetString(im.obj.TitleField),
					Existing: m.ID, ExistingTitle: m.Title, Score: m.Score, Reasons: m.Reasons})
				return nil
			}
		}
	}
	return nil
}

// dupProbe is a created row checked for duplicates: checked again by the phone and domain
// rules once the import's rows are in (checkScanned).
type dupProbe struct {
	row       int
	id, title string
	values    map[string]any
}

// checkScanned checks the rows checkDuplicate checked by the rules it leaves out, phones and
// domains, in one pass over the object's records that were there before the import
// ([dedupe.CheckScanned]), and keeps for each row the best match of the two checks.
func (im *importer) checkScanned() {
	if len(im.probes) == 0 || im.dupCheckFailed {
		return
	}
	c := schemas.System
	if !isSuperuser(im.info) {
		c = schemas.User(im.opts.As)
	}
	values := make([]map[string]any, len(im.probes))
	exclude := make([]string, len(im.probes))
	for i, p := range im.probes {
		values[i], exclude[i] = p.values, p.id
	}
	found, err := dedupe.CheckScanned(im.s.app, c, im.obj, nil, values, exclude, im.started)
	if err != nil {
		im.dupCheckFailed = true
		im.res.Warnings = append(im.res.Warnings, im.cellErr(im.probes[0].row, nil, "the duplicate check by phone and domain failed: "+err.Error()))
		return
	}
	at := map[int]int{} // row → its entry in the result
	for i, d := range im.res.Duplicates {
		at[d.Row] = i
	}
	for i, matches := range found {
		if len(matches) == 0 {
			continue
		}
		p, m := im.probes[i], matches[0]
		d := ImportDuplicate{Row: p.row, ID: p.id, Title: p.title, Existing: m.ID, ExistingTitle: m.Title, Score: m.Score, Reasons: m.Reasons}
		if j, ok := at[p.row]; !ok {
			at[p.row] = len(im.res.Duplicates)
			im.res.Duplicates = append(im.res.Duplicates, d)
		} else if d.Score > im.res.Duplicates[j].Score {
			im.res.Duplicates[j] = d
		}
	}
}
