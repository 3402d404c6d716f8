package transfer

import (
	"strings"
	"sync"

	"github.com/pocketbase/dbx"
)

// Reads of many values at once (a group's keys, a group's unique values) name their index.
//
// PocketBase runs PRAGMA optimize after every change of a collection's table and every night,
// which records the tables' sizes in sqlite_stat1. A contacts table that held 200 records
// then is believed to hold 200 for good: for "email IN (400 values)" SQLite estimates 400
// index searches to cost more than reading 200 rows, and scans the whole table instead. An
// import of 100,000 contacts after such a PRAGMA scanned the growing table for each group of
// 500 rows (10.5 s of CPU, against 0.35 s with the index). INDEXED BY makes the plan the
// index's whatever the statistics say.

// inIndexes remembers, for one import, the index to read each table and column by ("" for
// none). The importer's and the writer's goroutines both use it.
type inIndexes struct{ m sync.Map } // "table\x00column" -> string

// on returns the name of an index of table whose first column is column (a unique one
// first), or "" when there is none.
func (c *inIndexes) on(db dbx.Builder, table, column string) string {
	k := table + "\x00" + column
	if v, ok := c.m.Load(k); ok {
		return v.(string)
	}
	var name string
	_ = db.NewQuery(`SELECT il.name FROM pragma_index_list({:t}) AS il, pragma_index_info(il.name) AS ii
		WHERE ii.seqno = 0 AND ii.name = {:c} ORDER BY il."unique" DESC, il.name LIMIT 1`).
		Bind(dbx.Params{"t": table, "c": column}).Row(&name)
	c.m.Store(k, name)
	return name
}

// selectIn reads columns of table's rows whose column is one of values and not empty into
// dest (dbx's All), by column's index (on); without an index, or when the index cannot serve
// the query (a partial index with another condition), as a plain query.
func (c *inIndexes) selectIn(db dbx.Builder, table, column string, columns []string, values []any, dest any) error {
	if idx := c.on(db, table, column); idx != "" {
		if err := inQuery(db, table, idx, column, columns, values).All(dest); err == nil {
			return nil
		}
		c.m.Store(table+"\x00"+column, "") // the plain query says what is wrong, if anything
	}
	return inQuery(db, table, "", column, columns, values).All(dest)
}

// inQuery is selectIn's query, by index idx ("": as SQLite plans it).
func inQuery(db dbx.Builder, table, idx, column string, columns []string, values []any) *dbx.SelectQuery {
	from := table
	if idx != "" {
		from = "{{" + table + "}} INDEXED BY `" + strings.ReplaceAll(idx, "`", "``") + "`"
	}
	return db.Select(columns...).From(from).Where(dbx.And(dbx.In(column, values...), dbx.NewExp("[["+column+"]] != ''")))
}
