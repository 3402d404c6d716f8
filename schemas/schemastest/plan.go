package schemastest

import (
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// QueryPlan returns SQLite's EXPLAIN QUERY PLAN of sql twice, one "detail" line per step:
// first as a fresh database plans it (no statistics), then after ANALYZE, as a long-running
// one may. Tests use it to check that a hot query reads an index instead of sorting (no "USE
// TEMP B-TREE") in both cases.
func QueryPlan(t testing.TB, app core.App, sql string, params dbx.Params) string {
	t.Helper()
	explain := func() string {
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
	before := explain()
	if _, err := app.DB().NewQuery("ANALYZE").Execute(); err != nil {
		t.Fatal(err)
	}
	return "without statistics:\n" + before + "\nafter ANALYZE:\n" + explain()
}
