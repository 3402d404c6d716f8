package schemas

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// DefaultGroupCommit is how many write transactions at most share one commit on data.db in the
// relata binary (RELATA_GROUP_COMMIT changes it).
const DefaultGroupCommit = 32

// EnableGroupCommit turns on group commit on app's data.db writer for up to max transactions
// per commit (max < 2 turns it off), and reports whether app's writer supports it; call it
// after the app is bootstrapped. SQLite has one writer, so write transactions queue for it:
// with group commit the transactions that queued while one ran join its transaction (each
// after the first in a savepoint) and commit together — one commit, and each page written
// once to the WAL, for the group. Each transaction still returns only once committed, and a
// failed one is rolled back alone (dbx.DB.EnableGroupCommit, third_party/dbx/PATCH.md).
//
// The one rule it adds: code running inside a transaction must not wait for another
// goroutine's transaction on the same app to return — the two may share a commit.
func EnableGroupCommit(app core.App, max int) bool {
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if ok {
		db.EnableGroupCommit(max)
	}
	return ok
}
