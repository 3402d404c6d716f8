package transfer

import (
	"os"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Ids of the records an import creates on the bulk path grow with time
// (schemas.TimeOrderedID): 9 base-36 characters of the creation time in milliseconds, then 6
// random ones ([a-z0-9]{15}, the id field's pattern, as PocketBase's random ids). Each index on the id (the table's primary key, and the
// audit trail's (object, record, seq)) then takes the new records near its end, a few pages
// that stay in the page cache, instead of one random page each: with random ids every
// transaction of an import rewrote thousands of scattered index pages into the WAL. The ids
// stay unique: a clash within the process is drawn again, and a clash with a stored record
// (another process in the same millisecond drew the same 6 characters; about 1 in 2·10^9 a
// pair) fails that row alone by the writer's check (storedIDClashes), never the chunk. What an
// id now tells is its record's creation time, which the record's `created` field says already; the random part keeps ids of one millisecond unpredictable.
//
// RELATA_IMPORT_RANDOM_IDS=1 gives imported records PocketBase's random ids (for A/B
// measurements).
var randomIDs = os.Getenv("RELATA_IMPORT_RANDOM_IDS") == "1"

// testNewID, set by tests, replaces newID.
var testNewID func() string

// newID returns the id of a record the bulk path creates, and how it was made.
func (im *importer) newID() (string, idSource) {
	if testNewID != nil {
		im.lastID = testNewID()
		return im.lastID, idOrdered
	}
	if randomIDs {
		return core.GenerateDefaultRandomId(), idRandom
	}
	im.lastID = schemas.TimeOrderedID()
	return im.lastID, idOrdered
}
