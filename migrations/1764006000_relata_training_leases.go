package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The training leases of the win-probability models (package insights/scoring): one row per
// object whose model is being trained, by whichever process trains it (`relata serve`, its
// schedule, `relata score train` run beside it, a second server on the same data directory).
// A training takes the row in one statement, only when there is none or its lease has
// expired, renews it while it runs and deletes it at the end; a process that crashed leaves a
// row that expires by itself. A plain SQLite table, not a PocketBase collection: no API,
// dashboard or schema file reaches it. expires_at is UTC text in PocketBase's date layout,
// fixed width, so it compares as it sorts.
func init() {
	m.Register(func(app core.App) error {
		_, err := app.DB().NewQuery(`CREATE TABLE IF NOT EXISTS _relata_training_leases (
			object TEXT PRIMARY KEY NOT NULL,
			holder TEXT NOT NULL,
			expires_at TEXT NOT NULL
		) WITHOUT ROWID`).Execute()
		return err
	}, func(app core.App) error {
		_, err := app.DB().NewQuery(`DROP TABLE IF EXISTS _relata_training_leases`).Execute()
		return err
	})
}
