package forms

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// DedupeLookupPlan returns SQLite's plan of the dedupe lookup of a submission (one line per
// step, as EXPLAIN QUERY PLAN prints them).
func DedupeLookupPlan(app core.App, collection, field, email string) (string, error) {
	coll, err := app.FindCachedCollectionByNameOrId(collection)
	if err != nil {
		return "", err
	}
	q := emailQuery(app, coll, field, email).Build()
	var rows []struct {
		Detail string `db:"detail"`
	}
	if err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + q.SQL()).Bind(q.Params()).All(&rows); err != nil {
		return "", err
	}
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r.Detail
	}
	return strings.Join(lines, "\n"), nil
}
