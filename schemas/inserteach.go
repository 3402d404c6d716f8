package schemas

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// InsertEach inserts rows (each one value per column, in order) into table with one
// single-row INSERT statement prepared once and run per row. For bulk writers inside a
// transaction it costs less than [InsertMany]'s multi-row statements: nothing is parsed per
// row, binding is linear, and SQLite keeps no statement journal for a single-row INSERT
// (a multi-row one copies every page it touches into that journal first, in case a later row
// of the same statement fails; with random keys in an index that is most of the work).
func InsertEach(tx core.App, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 || len(cols) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO {{" + table + "}} ([[" + strings.Join(cols, "]], [[") + "]]) VALUES (")
	names := make([]string, len(cols))
	for j := range cols {
		if j > 0 {
			sb.WriteString(", ")
		}
		names[j] = "p" + strconv.Itoa(j)
		sb.WriteString("{:" + names[j] + "}")
	}
	sb.WriteString(")")
	q := tx.DB().NewQuery(sb.String()).Prepare()
	if q.LastError != nil {
		return fmt.Errorf("insert into %s: %w", table, q.LastError)
	}
	defer q.Close()
	params := make(dbx.Params, len(cols))
	for i, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("insert into %s: row %d has %d values for %d columns", table, i+1, len(row), len(cols))
		}
		for j, v := range row {
			params[names[j]] = v
		}
		if _, err := q.Bind(params).Execute(); err != nil {
			return fmt.Errorf("insert row %d of %d into %s: %w", i+1, len(rows), table, err)
		}
	}
	return nil
}
