package migrations

import (
	"errors"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The audit trail's salts (package schemas/audit): every entry written from now on gets a
// random salt, journaled with its changes and kept in relata_audit beside them, and its
// changes_hash becomes SHA-256 over the salt and the changes, so that the digest a privacy
// erasure keeps (with the salt emptied) cannot test guesses of the erased values. Entries
// written before have no salt and verify as before. The field is hidden: the REST API does
// not answer it, superusers included (the collection has no API rules anyway); Relata's
// audit endpoints never show it.
func init() {
	m.Register(func(app core.App) error {
		if _, err := app.DB().NewQuery(`ALTER TABLE _relata_audit_journal ADD COLUMN salt TEXT NOT NULL DEFAULT ''`).Execute(); err != nil {
			return err
		}
		c, err := app.FindCollectionByNameOrId("relata_audit")
		if err != nil {
			return err
		}
		c.Fields.Add(&core.TextField{Name: "salt", Max: 64, Hidden: true,
			Help: "Random, hashed with the changes into changes_hash; emptied when the values are erased."})
		return app.Save(c)
	}, func(app core.App) error {
		var salted int
		if err := app.DB().NewQuery(`SELECT (SELECT count(*) FROM _relata_audit_journal WHERE salt != '') + (SELECT count(*) FROM relata_audit WHERE salt != '')`).Row(&salted); err != nil {
			return err
		}
		if salted > 0 {
			return errors.New("audit entries carry salts: without them they would fail verification; this migration cannot be reverted")
		}
		if _, err := app.DB().NewQuery(`ALTER TABLE _relata_audit_journal DROP COLUMN salt`).Execute(); err != nil {
			return err
		}
		c, err := app.FindCollectionByNameOrId("relata_audit")
		if err != nil {
			return err
		}
		c.Fields.RemoveByName("salt")
		return app.Save(c)
	})
}
