package schemastest

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// LogStatements records every statement sent on app's write connection (queries and
// executions, inside transactions too) until the returned function is called; that function
// stops the log and returns the statements, one per line. Tests use it to show what a write
// transaction reads and writes.
func LogStatements(t testing.TB, app core.App) func() string {
	t.Helper()
	var (
		mu    sync.Mutex
		stmts []string
	)
	add := func(s string) {
		mu.Lock()
		stmts = append(stmts, s)
		mu.Unlock()
	}
	db := app.NonconcurrentDB().(*dbx.DB)
	db.QueryLogFunc = func(_ context.Context, _ time.Duration, s string, _ *sql.Rows, _ error) { add(s) }
	db.ExecLogFunc = func(_ context.Context, _ time.Duration, s string, _ sql.Result, _ error) { add(s) }
	stop := func() string {
		db.QueryLogFunc, db.ExecLogFunc = nil, nil
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(stmts, "\n")
	}
	t.Cleanup(func() { stop() })
	return stop
}
