package transfer

import (
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

// ImportCommand is the `relata import` command, for tests that run it in process.
func (s *Service) ImportCommand() *cobra.Command { return s.newImportCommand() }

// SetSerialImport makes imports write on the importer's goroutine (as RELATA_IMPORT_SERIAL=1)
// until the returned function restores the setting.
func SetSerialImport(on bool) func() {
	old := serialImport
	serialImport = on
	return func() { serialImport = old }
}

// InQueryPlan is SQLite's plan for the query by which imports read many values of column at
// once (a group's keys or unique values): by its index when indexed, else as SQLite plans it.
func InQueryPlan(db dbx.Builder, table, column string, values []any, indexed bool) (string, error) {
	idx := ""
	if indexed {
		idx = (&inIndexes{}).on(db, table, column)
	}
	q := inQuery(db, table, idx, column, []string{"id"}, values).Build()
	var rows []struct {
		Detail string `db:"detail"`
	}
	if err := db.NewQuery("EXPLAIN QUERY PLAN " + q.SQL()).Bind(q.Params()).All(&rows); err != nil {
		return "", err
	}
	var b []string
	for _, r := range rows {
		b = append(b, r.Detail)
	}
	return strings.Join(b, "; "), nil
}

// SetNewID makes the bulk path give new records the ids f returns, until the returned function
// restores the generator.
func SetNewID(f func() string) func() {
	testNewID = f
	return func() { testNewID = nil }
}

// SetUndoChunk makes Undo go through n records a transaction until the returned function
// restores the setting.
func SetUndoChunk(n int) func() {
	old := undoChunk
	undoChunk = n
	return func() { undoChunk = old }
}

// Occupy takes n of user's slots ([MaxBusyPerUser]) as running imports, exports or jobs
// would; the returned function gives them back.
func (s *Service) Occupy(user *core.Record, n int) (func(), error) {
	var releases []func()
	for range n {
		r, err := s.acquire(user)
		if err != nil {
			for _, r := range releases {
				r()
			}
			return nil, err
		}
		releases = append(releases, r)
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}, nil
}
