package schemas

import (
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// InsertMaxParams bounds the bound parameters of one statement of [InsertMany]: the SQLite
// driver matches each parameter by scanning the arguments, so binding costs the square of
// their number (one statement of 7,500 costs more than 500 single-row inserts); ~400 keeps
// that small while a statement still carries tens of rows.
const InsertMaxParams = 400

// InsertMany inserts rows (each one value per column, in order) into table with multi-row
// INSERT statements of at most InsertMaxParams parameters: bulk writers (imports, the audit
// of imports) pay one statement per few dozen rows instead of one per row.
func InsertMany(tx core.App, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 || len(cols) == 0 {
		return nil
	}
	per := max(1, InsertMaxParams/len(cols))
	head := "INSERT INTO {{" + table + "}} ([[" + strings.Join(cols, "]], [[") + "]]) VALUES "
	for start := 0; start < len(rows); start += per {
		part := rows[start:min(start+per, len(rows))]
		var sb strings.Builder
		sb.WriteString(head)
		params := make(dbx.Params, len(part)*len(cols))
		for i, row := range part {
			if len(row) != len(cols) {
				return fmt.Errorf("insert into %s: row %d has %d values for %d columns", table, start+i, len(row), len(cols))
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(")
			for j, v := range row {
				if j > 0 {
					sb.WriteString(", ")
				}
				name := fmt.Sprintf("p%d_%d", i, j)
				sb.WriteString("{:" + name + "}")
				params[name] = v
			}
			sb.WriteString(")")
		}
		if _, err := tx.DB().NewQuery(sb.String()).Bind(params).Execute(); err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", len(part), table, err)
		}
	}
	return nil
}
