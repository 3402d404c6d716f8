package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// entryID is the id of the entry numbered seq: seq in base 36, zero-padded to PocketBase's 15
// characters ([a-z0-9]{15}, as the collection's id field requires). Ids that grow with the
// sequence put every new entry at the end of the primary key's index — an append to its last
// page — where random ids put each entry of a batch on a page of its own, all of which the
// batch's commit then writes to the WAL. An entry's id is as public as its sequence number
// (both are in every answer); the hash chain does not cover the id (Verify reads the id only
// to match erasures), so trails with the random ids of earlier versions verify as before and
// keep them. A random id of an earlier entry equal to a new one would need 15 leading
// characters to match a base-36 number (odds about 1 in 10^23 per pair); the insert would then
// fail and the entries stay in the journal, logged.
func entryID(seq int64) string {
	s := strconv.FormatInt(seq, 36)
	if len(s) >= core.DefaultIdLength {
		return s
	}
	return strings.Repeat("0", core.DefaultIdLength-len(s)) + s
}

// sqlInsert inserts one entry, with positional parameters (the same text each time, so the
// statement cache of `relata serve` keeps it). One prepared statement run per entry: a
// multi-row INSERT measured no cheaper (BENCHMARKS.md, branch audit4) — inside a transaction
// SQLite opens a statement journal for a statement that writes several rows and may fail
// half-way on a unique index, and that journal's allocations cost what the fewer steps save.
var sqlInsert = "INSERT INTO " + Collection + " (" + strings.Join(entryColumns, ", ") + ") VALUES (" +
	strings.TrimSuffix(strings.Repeat("?, ", len(entryColumns)), ", ") + ")"

// executor returns the database/sql transaction under tx, which must be a transaction.
func executor(tx core.App) (dbx.Executor, error) {
	t, ok := tx.DB().(*dbx.Tx)
	if !ok {
		return nil, errors.New("audit: write the trail outside a transaction")
	}
	b, ok := t.Builder.(interface{ Executor() dbx.Executor })
	if !ok {
		return nil, errors.New("audit: a transaction without an executor")
	}
	return b.Executor(), nil
}

// insertEntries inserts chained entries (id, sequence number and hashes set) into the trail,
// in tx, with one prepared statement (database/sql directly: dbx's named parameters cost a
// map and a lookup per value).
func insertEntries(tx core.App, entries []*Entry) error {
	if len(entries) == 0 {
		return nil
	}
	ex, err := executor(tx)
	if err != nil {
		return err
	}
	stmt, err := ex.Prepare(sqlInsert)
	if err != nil {
		return fmt.Errorf("prepare the insert of entries: %w", err)
	}
	defer stmt.Close()
	for _, e := range entries {
		if _, err := stmt.Exec(e.ID, e.Seq, e.At, e.ActorKind, e.ActorID, e.Via, e.Object, e.Record, e.Action,
			e.ChangesJSON, e.ChangesHash, e.Salt, false, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("insert entry %d: %w", e.Seq, err)
		}
	}
	return nil
}
