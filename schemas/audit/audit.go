// Package audit keeps Relata's audit trail: one entry for every create, update and delete of
// a CRM record — who, when, through what, and each field's old and new value — written in
// the transaction of the change, kept in the relata_audit collection, which no API can edit
// or delete, and hash-chained so that [Verify] detects an entry changed or removed with SQL.
//
// The record hooks write each entry into a journal ([Journal], an index-free table) in the
// change's transaction; a background chainer ([StartChainer]) moves the journal into the trail
// in batches, numbering and hashing the entries, within about [ChainDelay] of the commit.
// Readers do not see the lag: [Find], [Verify] and every other reader call [Flush] first, and
// the direct appends ([Append], [AppendMany], [Erase]) chain the journal before their own entry,
// so the trail's order is the commit order. Tamper evidence starts when an entry is chained:
// an entry waiting in the journal has no hash yet.
//
// Package hooks appends the entries (it alone binds record events); what made a change is
// read from the save's context, set with [WithActor] by workflows, imports and commands, or
// from the signed-in user of an API request:
//
//	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindImport, ID: batchID, Via: "import"})
//	err := app.SaveWithContext(ctx, record)
//
// The chain: each entry's hash is SHA-256 over its predecessor's hash and its own fields,
// the changed values entering through their own digest (changes_hash). Erasing a person's
// data (privacy) replaces the values by a marker and keeps the digest, so the chain still
// verifies; the erasure itself is a later entry that lists the entries it erased, and
// [Verify] refuses an erased entry that no erasure lists.
//
// The digest is a hiding commitment to the changed values, so that the digest an erasure
// keeps does not let whoever reads the trail (an admin, a backup) test guesses of the erased
// values ("was it ada@example.com?"). When an entry's changes are first written (into the
// journal by [Journal], or by [Append], [AppendMany] and [Encode]) it gets a salt of 16
// bytes from crypto/rand, stored as 32 lowercase hexadecimal characters (column salt), and
//
//	changes_hash = hex(SHA-256(salt || changes))
//
// where salt is those 32 ASCII characters as stored (not the 16 bytes they encode) and
// changes the stored JSON's bytes, nothing between them: `printf '%s%s' "$salt"
// "$changes" | sha256sum` recomputes it. The salt never changes after that write — the
// chainer reads it from the journal row, so a batch chained again after a crash gets the
// same digest. Erasure empties the salt with the values and keeps the digest: with the salt
// gone, the digest is a hash of unguessable input. Entries written before salts (salt
// empty) keep changes_hash = hex(SHA-256(changes)) and verify as before.
package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Collection is the name of the audit trail's collection.
const Collection = "relata_audit"

// Actions of an entry.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
	// ActionErase is the entry of a privacy erasure: its changes list the erased entries.
	ActionErase = "erase"
)

// Kinds of actor.
const (
	KindUser      = schemas.OriginUser      // a CRM user (users collection), through the API or the web app
	KindSuperuser = schemas.OriginSuperuser // a PocketBase superuser, through the API or the dashboard
	KindWorkflow  = schemas.OriginWorkflow  // a workflow run (ID is the run's id, Via "workflow:NAME")
	KindImport    = schemas.OriginImport    // an import batch (ID is the batch's id)
	KindToken     = schemas.OriginToken     // an API token (ID is the token's id)
	KindSystem    = schemas.OriginSystem    // Relata itself or a command (seed, schema apply, retention)
)

// Actor is who or what made a change: [schemas.Origin], which packages below audit (imports)
// set too.
type Actor = schemas.Origin

// WithActor returns a context that attributes the saves made with it to a.
func WithActor(ctx context.Context, a Actor) context.Context { return schemas.WithOrigin(ctx, a) }

// ActorFrom returns the actor set with [WithActor] (or [schemas.WithOrigin]), if any.
func ActorFrom(ctx context.Context) (Actor, bool) { return schemas.OriginFrom(ctx) }

// Change is one field's values before and after. A field whose values must not be kept
// (passwords, hidden fields) has Redacted set and no values.
type Change struct {
	Old      any  `json:"old,omitempty"`
	New      any  `json:"new,omitempty"`
	Redacted bool `json:"redacted,omitempty"`
}

// Entry is one entry of the trail.
type Entry struct {
	ID          string            `db:"id" json:"id"`
	Seq         int64             `db:"seq" json:"seq"`
	At          string            `db:"at" json:"at"`
	ActorKind   string            `db:"actor_kind" json:"actorKind"`
	ActorID     string            `db:"actor_id" json:"actorId"`
	Via         string            `db:"via" json:"via"`
	Object      string            `db:"object" json:"object"`
	Record      string            `db:"record" json:"record"`
	Action      string            `db:"action" json:"action"`
	Changes     map[string]Change `db:"-" json:"changes"`
	ChangesJSON string            `db:"changes" json:"-"`
	ChangesHash string            `db:"changes_hash" json:"-"`
	Salt        string            `db:"salt" json:"-"` // 32 hex characters; empty in entries older than salts and in erased ones
	Erased      bool              `db:"erased" json:"erased,omitempty"`
	PrevHash    string            `db:"prev_hash" json:"-"`
	Hash        string            `db:"hash" json:"hash"`
}

// timeFormat is how entries store their time: PocketBase's own, in UTC, to the millisecond.
const timeFormat = "2006-01-02 15:04:05.000Z"

// digest returns the hex SHA-256 of b.
func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// saltLen is the length of an entry's salt in random bytes (twice that in hex characters).
const saltLen = 16

// newSalt returns a fresh salt: saltLen bytes from crypto/rand, in lowercase hex.
func newSalt() string {
	var b [saltLen]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return hex.EncodeToString(b[:])
}

// validSalt reports whether s is a salt as [newSalt] writes it.
func validSalt(s string) bool {
	if len(s) != 2*saltLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// changesDigest is an entry's changes_hash: the hex SHA-256 of the salt's hex text followed
// by the changes' JSON (of the JSON alone when salt is empty, in entries older than salts).
func changesDigest(salt, changes string) string {
	if salt == "" {
		return digest([]byte(changes))
	}
	b := make([]byte, 0, len(salt)+len(changes))
	b = append(b, salt...)
	return digest(append(b, changes...))
}

// chainHash is the hash of an entry given its predecessor's hash.
// It is SHA-256 over the JSON array of its fields (as json.Marshal writes it;
// [appendChainFields] builds the same bytes without reflection).
func chainHash(e *Entry) string {
	var buf [512]byte
	return digest(appendChainFields(buf[:0], e))
}

// sqlHead reads the trail's head.

const sqlHead = `SELECT seq, hash FROM relata_audit ORDER BY seq DESC LIMIT 1`

// Append adds an entry for a change of record to the trail at once, in tx — the transaction
// that saves the change, so that both commit or neither does (outside a transaction, Append
// opens its own). at is the time of the change. It first chains what is pending in the
// journal, in the same transaction, so the trail keeps the order in which changes committed.
// The record hooks use [Journal] instead; Append is for the few writers that need the entry
// (its id, sequence number, hash) in the transaction: privacy erasure, tests.
//
// The entry links to the trail's head as the transaction sees it, read in the transaction:
// SQLite serialises writers, so two appends never link to the same head — a transaction
// whose snapshot another writer has moved on cannot write — and an entry rolled back leaves
// nothing behind to link to.
func Append(tx core.App, at time.Time, actor Actor, object, record, action string, changes map[string]Change) (*Entry, error) {
	if changes == nil {
		changes = map[string]Change{}
	}
	b, err := encodeChanges(changes)
	if err != nil {
		return nil, fmt.Errorf("audit: encode the changes of %s %s: %w", object, record, err)
	}
	e := &Entry{
		At: at.UTC().Format(timeFormat), ActorKind: actor.Kind, ActorID: actor.ID, Via: actor.Via,
		Object: object, Record: record, Action: action, Changes: changes, ChangesJSON: string(b), Salt: newSalt(),
	}
	e.ChangesHash = changesDigest(e.Salt, e.ChangesJSON)
	err = tx.RunInTransaction(func(tx core.App) error {
		if _, err := chainPending(tx); err != nil {
			return err
		}
		seq, prev, err := head(tx)
		if err != nil {
			return err
		}
		e.Seq, e.ID, e.PrevHash = seq+1, entryID(seq+1), prev
		e.Hash = chainHash(e)
		if err := insertEntries(tx, []*Entry{e}); err != nil {
			return fmt.Errorf("audit: append the %s of %s %s: %w", action, object, record, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Problem is an entry that fails verification.
type Problem struct {
	Seq    int64  `json:"seq"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return fmt.Sprintf("entry %d (%s): %s", p.Seq, p.ID, p.Reason) }

// Report is the result of [Verify].
type Report struct {
	Entries  int64     `json:"entries"`
	HeadSeq  int64     `json:"headSeq"`
	HeadHash string    `json:"headHash"`
	Problems []Problem `json:"problems"`
}

// OK reports whether the chain is intact.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify walks the whole trail in order and recomputes every digest and link: an entry
// edited with SQL no longer matches its hash, a removed one breaks the sequence or the link
// of its successor, an erased one must be listed by a later erasure entry. The changes digest
// of an entry with a salt is recomputed with it, of one without (older than salts) without;
// an erased entry's digest is trusted (its values are gone), and an erased entry must have
// lost its salt too, which would otherwise let its digest test guesses. Entries removed
// from the end of the trail leave no gap: compare the head (Report.HeadSeq and HeadHash) with
// one kept elsewhere, e.g. printed by an earlier `relata audit verify`.
func Verify(app core.App) (*Report, error) {
	if err := Flush(app); err != nil {
		return nil, err
	}
	r := &Report{}
	rows, err := app.DB().Select("id", "seq", "at", "actor_kind", "actor_id", "via", "object", "record", "action",
		"changes", "changes_hash", "salt", "erased", "prev_hash", "hash").From(Collection).OrderBy("seq ASC").Rows()
	if err != nil {
		return nil, fmt.Errorf("audit: read the trail: %w", err)
	}
	defer rows.Close()
	var prev string
	var prevSeq int64
	erased := map[string]int64{} // erased entry id -> its seq, until an erasure lists it
	for rows.Next() {
		var e Entry
		if err := rows.ScanStruct(&e); err != nil {
			return nil, fmt.Errorf("audit: read entry %d: %w", prevSeq+1, err)
		}
		r.Entries++
		bad := func(format string, args ...any) {
			r.Problems = append(r.Problems, Problem{Seq: e.Seq, ID: e.ID, Reason: fmt.Sprintf(format, args...)})
		}
		if e.Seq != prevSeq+1 {
			bad("follows entry %d: entries %d to %d were removed", prevSeq, prevSeq+1, e.Seq-1)
		}
		if e.PrevHash != prev {
			bad("does not link to the entry before it: the entry before was changed or removed")
		}
		switch {
		case e.Erased:
			erased[e.ID] = e.Seq
			if e.Salt != "" {
				bad("is erased but keeps its salt: its digest can test guesses of the erased values")
			}
		case e.Salt != "" && !validSalt(e.Salt):
			bad("its salt was edited")
		case changesDigest(e.Salt, e.ChangesJSON) != e.ChangesHash:
			bad("its changed values were edited (or their salt)")
		}
		if chainHash(&e) != e.Hash {
			bad("was edited: its content does not match its hash")
		}
		if e.Action == ActionErase && !e.Erased {
			var listed struct {
				Entries []string `json:"entries"`
			}
			var ch map[string]Change
			if json.Unmarshal([]byte(e.ChangesJSON), &ch) == nil {
				if v, ok := ch["entries"]; ok {
					b, _ := json.Marshal(v.New)
					_ = json.Unmarshal(b, &listed.Entries)
				}
			}
			for _, id := range listed.Entries {
				delete(erased, id)
			}
		}
		prev, prevSeq = e.Hash, e.Seq
		r.HeadSeq, r.HeadHash = e.Seq, e.Hash
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var ids []string
	for id := range erased {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return int(erased[a] - erased[b]) })
	for _, id := range ids {
		r.Problems = append(r.Problems, Problem{Seq: erased[id], ID: id, Reason: "is marked erased, but no erasure entry lists it"})
	}
	slices.SortStableFunc(r.Problems, func(a, b Problem) int { return int(a.Seq - b.Seq) })
	return r, nil
}

// ErasedMarker replaces erased values.
const ErasedMarker = "[erased]"

// Erase replaces the values of the given entries by [ErasedMarker] and empties their salts
// (keeping their digests, so the chain verifies, but no longer a digest of anything one could
// guess) and appends an erasure entry that lists them, in tx. It is the only change of the
// trail Relata makes; privacy erasure calls it.
func Erase(tx core.App, at time.Time, actor Actor, object, record string, entryIDs []string) (*Entry, error) {
	return EraseFields(tx, at, actor, object, record, entryIDs, nil)
}

// WholeErasedJSON is what the changes of an entry erased whole hold.
const WholeErasedJSON = `{"*":{"new":"[erased]"}}`

// EraseFields is [Erase] for entries of which only some fields hold erased values: the
// entries of entryIDs lose every value, and in each entry of fields (entry id → field
// names) the values of the named fields are replaced by [ErasedMarker] while the other
// changes stay readable (a deal's amount, an activity's type). An entry of fields that holds
// no value of the named fields is left as it is. An entry erased in part loses its salt as
// one erased whole does: its remaining changes no longer match the kept digest, which
// [Verify] trusts for every erased entry. The erasure entry lists every entry changed.
func EraseFields(tx core.App, at time.Time, actor Actor, object, record string, entryIDs []string, fields map[string][]string) (*Entry, error) {
	if len(entryIDs) == 0 && len(fields) == 0 {
		return nil, nil
	}
	marker := []byte(WholeErasedJSON)
	if err := Flush(tx); err != nil { // entries still in the journal get their ids
		return nil, err
	}
	listed := slices.Clone(entryIDs)
	whole := make(map[string]bool, len(entryIDs))
	for _, id := range entryIDs {
		whole[id] = true
	}
	partial := make([]string, 0, len(fields))
	for id := range fields {
		if !whole[id] {
			partial = append(partial, id)
		}
	}
	slices.Sort(partial)
	for _, id := range partial {
		var row struct {
			Changes string `db:"changes"`
		}
		if err := tx.DB().Select("changes").From(Collection).AndWhere(dbx.HashExp{"id": id}).One(&row); err != nil {
			return nil, fmt.Errorf("audit: read entry %s to erase: %w", id, err)
		}
		var changes map[string]Change
		if err := json.Unmarshal([]byte(row.Changes), &changes); err != nil {
			return nil, fmt.Errorf("audit: read entry %s to erase: %w", id, err)
		}
		erased := false
		for _, name := range fields[id] {
			c, ok := changes[name]
			if !ok || c.Redacted || (c.Old == nil && c.New == nil) {
				continue
			}
			if c.Old != nil && c.Old != ErasedMarker {
				c.Old, erased = ErasedMarker, true
			}
			if c.New != nil && c.New != ErasedMarker {
				c.New, erased = ErasedMarker, true
			}
			changes[name] = c
		}
		if !erased {
			continue
		}
		b, err := encodeChanges(changes)
		if err != nil {
			return nil, fmt.Errorf("audit: erase entry %s: %w", id, err)
		}
		if _, err := tx.DB().Update(Collection, dbx.Params{"changes": string(b), "salt": "", "erased": true}, dbx.HashExp{"id": id}).Execute(); err != nil {
			return nil, fmt.Errorf("audit: erase entry %s: %w", id, err)
		}
		listed = append(listed, id)
	}
	if len(listed) == 0 {
		return nil, nil
	}
	// In chunks: a person may have more entries than one statement may bind parameters.
	for chunk := range slices.Chunk(entryIDs, 500) {
		vals := make([]any, len(chunk))
		for i, id := range chunk {
			vals[i] = id
		}
		_, err := tx.DB().Update(Collection, dbx.Params{"changes": string(marker), "salt": "", "erased": true}, dbx.In("id", vals...)).Execute()
		if err != nil {
			return nil, fmt.Errorf("audit: erase %d entries: %w", len(entryIDs), err)
		}
	}
	return Append(tx, at, actor, object, record, ActionErase, map[string]Change{"entries": {New: listed}})
}

// decode fills e.Changes from e.ChangesJSON.
func (e *Entry) decode() {
	e.Changes = map[string]Change{}
	_ = json.Unmarshal([]byte(e.ChangesJSON), &e.Changes)
}

// Query selects entries of the trail; zero fields do not filter.
type Query struct {
	Object, Record, ActorID, Field string
	From, To                       time.Time
	Before                         int64 // entries with seq below this (paging newest first); 0 = from the end
	Limit                          int   // default 50, at most 500
}

// Find returns the entries matching q, newest first.
func Find(app core.App, q Query) ([]*Entry, error) {
	if err := Flush(app); err != nil {
		return nil, err
	}
	sel := app.DB().Select("id", "seq", "at", "actor_kind", "actor_id", "via", "object", "record", "action",
		"changes", "changes_hash", "erased", "prev_hash", "hash").From(Collection)
	if q.Object != "" {
		sel.AndWhere(dbx.HashExp{"object": q.Object})
	}
	if q.Record != "" {
		sel.AndWhere(dbx.HashExp{"record": q.Record})
	}
	if q.ActorID != "" {
		sel.AndWhere(dbx.HashExp{"actor_id": q.ActorID})
	}
	if !q.From.IsZero() {
		sel.AndWhere(dbx.NewExp("at >= {:from}", dbx.Params{"from": q.From.UTC().Format(timeFormat)}))
	}
	if !q.To.IsZero() {
		sel.AndWhere(dbx.NewExp("at < {:to}", dbx.Params{"to": q.To.UTC().Format(timeFormat)}))
	}
	if q.Field != "" {
		sel.AndWhere(dbx.NewExp("json_type(changes, {:path}) IS NOT NULL", dbx.Params{"path": "$." + jsonKey(q.Field)}))
	}
	if q.Before > 0 {
		sel.AndWhere(dbx.NewExp("seq < {:before}", dbx.Params{"before": q.Before}))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var out []*Entry
	if err := sel.OrderBy("seq DESC").Limit(int64(limit)).All(&out); err != nil {
		return nil, fmt.Errorf("audit: find entries: %w", err)
	}
	for _, e := range out {
		e.decode()
	}
	return out, nil
}

// jsonKey quotes a field name for a SQLite JSON path.
func jsonKey(name string) string {
	b, _ := json.Marshal(name)
	return string(b)
}
