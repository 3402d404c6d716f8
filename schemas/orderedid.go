package schemas

import (
	"crypto/rand"
	"encoding/binary"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// OrderedID returns a new record id that grows with time: 9 base-36 characters of the current
// time in milliseconds, then 6 random ones — [a-z0-9]{15}, the pattern of PocketBase's own
// random ids, so it is a valid id of any collection.
//
// The workflow engine and the outbox give their rows these ids (runs, events, steps, emails,
// the tasks and timeline activities they create), and so do the record hooks to every new
// record of a CRM object that comes without an id (hooks, orderedID). Each index on the id then takes the new rows
// near its end, on a page that stays in the page cache and that a group of runs writes to the
// WAL once, instead of one scattered page per row: under the end-to-end load (create → task →
// email) the server wrote 17 % fewer bytes and made 15 % fewer write calls per run
// (BENCHMARKS.md, "Time-ordered ids for the engine's rows").
//
// Ids never repeat within the process: the time part never goes back (a clock set back keeps
// the last one), and a random part drawn twice in one millisecond is drawn again. Two
// processes (the server and a CLI command) drawing the same 6 characters in the same
// millisecond — about 1 in 2·10⁹ a pair — would make the second insert fail on the primary key,
// as a clash of random ids would. An id tells its record's creation time, which the record's
// `created` field says already; the random part keeps the ids of one millisecond
// unpredictable.
//
// RELATA_RANDOM_IDS=1 gives these rows PocketBase's random ids instead (for A/B
// measurements).
func OrderedID() string {
	if randomIDs {
		return core.GenerateDefaultRandomId()
	}
	return TimeOrderedID()
}

// TimeOrderedID is OrderedID without the RELATA_RANDOM_IDS switch: the importer's bulk path
// draws its ids here under its own switch (RELATA_IMPORT_RANDOM_IDS).
func TimeOrderedID() string {
	return ids.next(time.Now().UnixMilli())
}

var randomIDs = os.Getenv("RELATA_RANDOM_IDS") == "1"

var ids orderedIDs

// idTimeChars is the width of the time part of an ordered id: 36^9 ms reach the year 5188.
const idTimeChars = 9

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// idTimePrefix is the time part of an ordered id made at ms (Unix milliseconds).
func idTimePrefix(ms int64) string {
	p := strconv.FormatInt(ms, 36)
	for len(p) < idTimeChars {
		p = "0" + p
	}
	return p
}

type orderedIDs struct {
	mu     sync.Mutex
	ms     int64
	prefix string
	used   map[string]struct{} // the random parts drawn in ms
}

func (o *orderedIDs) next(now int64) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now > o.ms || o.prefix == "" {
		o.ms = max(now, o.ms)
		o.prefix = idTimePrefix(o.ms)
		if o.used == nil {
			o.used = map[string]struct{}{}
		}
		clear(o.used)
	}
	for {
		r := randomIDPart()
		if _, dup := o.used[r]; !dup {
			o.used[r] = struct{}{}
			return o.prefix + r
		}
	}
}

// randomIDPart draws the 6 random characters of an ordered id from crypto/rand: one 64-bit number taken modulo 36^6 (a bias below 10^-9), written in base 36,
// in about 0.3 µs; PocketBase's security.RandomStringWithAlphabet draws a big.Int per
// character (about 2.5 µs for 6).
func randomIDPart() string {
	const n = core.DefaultIdLength - idTimeChars
	const space = 36 * 36 * 36 * 36 * 36 * 36
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	v := binary.LittleEndian.Uint64(b[:]) % space
	var out [n]byte
	for i := n - 1; i >= 0; i-- {
		out[i] = idAlphabet[v%36]
		v /= 36
	}
	return string(out[:])
}
