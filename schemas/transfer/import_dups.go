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
