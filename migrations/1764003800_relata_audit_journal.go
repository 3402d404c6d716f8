package migrations

import (
	"errors"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The audit trail's journal (package schemas/audit): the record hooks write each change's
// entry here, in the change's transaction, and a background chainer moves the entries into
// relata_audit in batches, numbering and hash-chaining them. A plain SQLite table, not a
// PocketBase collection: no API, dashboard or schema file reaches it. Its only key is the
// rowid (INTEGER PRIMARY KEY), so a journaled write updates one B-tree instead of the trail's
// five (rowid, id, seq and two lookup indexes); the rowid order is the commit order (see
// audit.Journal).
func init() {
	m.Register(func(app core.App) error {
		_, err := app.DB().NewQuery(`CREATE TABLE IF NOT EXISTS _relata_audit_journal (
			id INTEGER PRIMARY KEY,
			at TEXT NOT NULL,
			actor_kind TEXT NOT NULL,
			actor_id TEXT NOT NULL DEFAULT '',
			via TEXT NOT NULL DEFAULT '',
			object TEXT NOT NULL,
			record TEXT NOT NULL,
			action TEXT NOT NULL,
			changes TEXT NOT NULL
		)`).Execute()
		return err
	}, func(app core.App) error {
		var pending int
		if err := app.DB().NewQuery(`SELECT count(*) FROM _relata_audit_journal`).Row(&pending); err != nil {
			return nil // no journal
		}
		if pending > 0 {
			return errors.New("the audit journal still holds entries: start Relata (or run `relata audit verify`) to chain them before reverting this migration")
		}
		_, err := app.DB().NewQuery(`DROP TABLE _relata_audit_journal`).Execute()
		return err
	})
}
