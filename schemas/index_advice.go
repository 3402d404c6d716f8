package schemas

import (
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
)

// IndexAdviceMinRows is the size from which a list sorted by an unindexed column gets an
// index suggestion: below it SQLite sorts the rows in memory in a few milliseconds (see
// docs/SCALING.md for the figures at 100,000 and 1,000,000 records).
const IndexAdviceMinRows = 10_000

// IndexAdvice is a suggestion to index a column that lists of an object are sorted by.
type IndexAdvice struct {
	Object string `json:"object"`
	Field  string `json:"field"`
	// Rows is the number of records (an upper bound: the largest row id).
	Rows int64 `json:"rows"`
	// Suggestion says how to add the index, for an admin.
	Suggestion string `json:"suggestion"`
}

// AdviseSortIndexes returns a suggestion for each column of sort (PocketBase's list syntax,
// "-amount,name") that no index of coll starts with, when coll holds at least minRows
// records. Sorting by such a column reads and sorts every record the filter lets through on
// each page; an index lets SQLite read the page in order and stop.
func AdviseSortIndexes(app core.App, coll *core.Collection, sort string, minRows int64) ([]IndexAdvice, error) {
	leading := map[string]bool{FieldID: true}
	for _, idx := range coll.Indexes {
		if p := dbutils.ParseIndex(idx); len(p.Columns) > 0 && p.Where == "" {
			leading[strings.Trim(p.Columns[0].Name, "`[]\"")] = true
		}
	}
	var cols []string
	for _, term := range strings.Split(sort, ",") {
		name := strings.TrimLeft(strings.TrimSpace(term), "+-")
		if name == "" || strings.HasPrefix(name, "@") || leading[name] || coll.Fields.GetByName(name) == nil {
			continue
		}
		cols = append(cols, name)
		leading[name] = true // once per column
	}
	if len(cols) == 0 {
		return nil, nil
	}
	var rows int64
	if err := app.DB().Select("coalesce(max(rowid), 0)").From(coll.Name).Row(&rows); err != nil {
		return nil, err
	}
	if rows < minRows {
		return nil, nil
	}
	out := make([]IndexAdvice, len(cols))
	for i, c := range cols {
		out[i] = IndexAdvice{Object: coll.Name, Field: c, Rows: rows, Suggestion: fmt.Sprintf(
			`add {"fields": ["%s"]} to "indexes" in %s.json and run "relata schema apply" (or add an index on %s in the dashboard, Collections → %s → Indexes)`,
			c, coll.Name, c, coll.Name)}
	}
	return out, nil
}

// SavedViewSorts returns, per object, the sorts of the saved views (the lists people come
// back to), for advice without a request.
func SavedViewSorts(app core.App) (map[string][]string, error) {
	var views []struct {
		Object string `db:"object"`
		Sort   string `db:"sort"`
	}
	err := app.DB().Select("object", "coalesce(json_extract(query, '$.sort'), '') AS sort").From("saved_views").
		Where(dbx.NewExp("json_valid(query)")).All(&views)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, v := range views {
		if v.Sort != "" {
			out[v.Object] = append(out[v.Object], v.Sort)
		}
	}
	return out, nil
}
