package audit

import (
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// Item is one change of a record for [AppendMany].
type Item struct {
	Object, Record, Action string
	Changes                map[string]Change
	// Encoded, when set (by [Encode] of Changes), is used instead of encoding Changes again:
	// a bulk writer encodes on the goroutine that prepares its records, so that the one
	// holding the write transaction only chains and inserts.
	Encoded *Encoded
}

// Encoded is a change list as an entry stores it: its JSON, the entry's salt and the digest
// of both (see the package doc).
type Encoded struct{ JSON, Salt, Hash string }

// Encode returns changes as [AppendMany] stores them (the same bytes it would write), with a
// fresh salt: an Encoded is for one entry.
func Encode(changes map[string]Change) (*Encoded, error) {
	if changes == nil {
		changes = map[string]Change{}
	}
	b, err := encodeChanges(changes)
	if err != nil {
		return nil, err
	}
	enc := &Encoded{JSON: string(b), Salt: newSalt()}
	enc.Hash = changesDigest(enc.Salt, enc.JSON)
	return enc, nil
}

// Snapshot returns the changes an entry lists for a new record (action create: every
// non-empty field as New) or a deleted one (delete: as Old). Passwords and hidden fields are
// marked changed without their values. The record hook and bulk writers (imports) share it,
// so an entry reads the same whichever path wrote the record.
func Snapshot(r *core.Record, action string) map[string]Change {
	out := map[string]Change{}
	for _, f := range r.Collection().Fields {
		name := f.GetName()
		if name == core.FieldNameId || skippedField(name) || f.Type() == core.FieldTypeAutodate {
			continue
		}
		v := r.Get(name)
		if Blank(v) {
			continue
		}
		switch {
		case f.GetHidden() || f.Type() == core.FieldTypePassword:
			out[name] = Change{Redacted: true}
		case action == ActionCreate:
			out[name] = Change{New: v}
		default:
			out[name] = Change{Old: v}
		}
	}
	return out
}

// skippedField reports fields whose changes are bookkeeping, not content.
func skippedField(name string) bool {
	return name == schemas.FieldLastTouched || name == schemas.FieldUpdated || name == schemas.FieldCreated
}

// Blank reports whether v holds no value: empty strings and lists, a zero date.
func Blank(v any) bool {
	if dt, ok := v.(types.DateTime); ok {
		return dt.IsZero()
	}
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// AppendMany adds one entry per item to the trail, in tx, chained in order (the chain is
// computed here), inserted in chunks of several rows per statement ([insertEntries]): the
// audit of bulk writes (imports), which would otherwise cost more than the writes themselves.
// tx must be a write transaction (the head read here cannot move before the inserts).
func AppendMany(tx core.App, at time.Time, actor Actor, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	if err := Flush(tx); err != nil { // what committed before comes first
		return err
	}
	seq, prev, err := head(tx)
	if err != nil {
		return err
	}
	when := at.UTC().Format(timeFormat)
	entries := make([]Entry, len(items))
	ptrs := make([]*Entry, len(items))
	for i, it := range items {
		enc := it.Encoded
		if enc == nil {
			var err error
			if enc, err = Encode(it.Changes); err != nil {
				return fmt.Errorf("audit: encode the changes of %s %s: %w", it.Object, it.Record, err)
			}
		}
		seq++
		e := &entries[i]
		*e = Entry{
			ID: entryID(seq), Seq: seq, At: when, ActorKind: actor.Kind, ActorID: actor.ID, Via: actor.Via,
			Object: it.Object, Record: it.Record, Action: it.Action, ChangesJSON: enc.JSON, ChangesHash: enc.Hash,
			Salt: enc.Salt, PrevHash: prev,
		}
		e.Hash = chainHash(e)
		prev = e.Hash
		ptrs[i] = e
	}
	if err := insertEntries(tx, ptrs); err != nil {
		return fmt.Errorf("audit: append %d entries: %w", len(items), err)
	}
	return nil
}
