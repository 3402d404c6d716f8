package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Erased people on the suppression list (schemas/privacy): an erasure keeps only the keyed
// hash of the address, in a row whose email is empty. The plain UNIQUE index on email let one
// such row exist per data directory, so the second erasure by email failed on the constraint.
// The address stays unique among the rows that have one (a partial index, as
// idx_workflow_runs_dedupe); any number of hashed rows may exist.
//
// SQLite reads a partial index only for a query whose WHERE repeats the index's condition
// (that the address is not empty), and no lookup in Relata does: the outbox, campaigns and
// sequences ask `email = ?`, `email IN (...)` and `email_hash = ?`. Each column therefore also
// gets a plain index that those lookups read (the hash lookups scanned the table until now;
// TestSuppressionLookupsUseIndexes in schemas/privacy checks the plans).
func init() {
	m.Register(func(app core.App) error {
		s, err := app.FindCollectionByNameOrId("email_suppressions")
		if err != nil {
			return err
		}
		s.AddIndex("idx_email_suppressions_email", true, "`email`", "`email` != ''")
		s.AddIndex("idx_email_suppressions_email_lookup", false, "`email`", "")
		s.AddIndex("idx_email_suppressions_hash", false, "`email_hash`", "")
		return app.Save(s)
	}, func(app core.App) error {
		// Fails, and changes nothing, once two erased people are on the list: the earlier
		// index cannot hold them.
		s, err := app.FindCollectionByNameOrId("email_suppressions")
		if err != nil {
			return nil
		}
		s.RemoveIndex("idx_email_suppressions_email_lookup")
		s.AddIndex("idx_email_suppressions_email", true, "`email`", "")
		s.AddIndex("idx_email_suppressions_hash", false, "`email_hash`", "`email_hash` != ''")
		return app.Save(s)
	})
}
