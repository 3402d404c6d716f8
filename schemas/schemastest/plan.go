package schemastest

import (
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// QueryPlan returns SQLite's EXPLAIN QUERY PLAN of q, one "detail" line per step, after
// ANALYZE so the planner sees the statistics a long-running database has. Tests use it to
// check that a hot query reads an index instead of sorting (no "USE TEMP B-TREE").
func QueryPlan(t testing.TB, app core.App, sql string, params dbx.Params) string {
	t.Helper()
	if _, err := app.DB().NewQuery("ANALYZE").Execute(); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Detail string `db:"detail"`
	}
	if err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + sql).Bind(params).All(&rows); err != nil {
		t.Fatalf("explain %s: %v", sql, err)
	}
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r.Detail
	}
	return strings.Join(lines, "\n")
}
