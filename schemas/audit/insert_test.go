package audit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
)

// TestEntryIDsFollowTheSequence checks the ids of new entries — the sequence number in base 36,
// 15 characters, so that they grow — on a trail that an earlier version started with random
// ids: journaled, bulk and direct entries get such ids, the mixed trail verifies, both kinds
// of entries can be erased and found, and no id repeats.
func TestEntryIDsFollowTheSequence(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenServedApp(t, t.TempDir())
	now := time.Now()
	sys := audit.Actor{Kind: audit.KindSystem}
	change := func(i int) map[string]audit.Change {
		return map[string]audit.Change{"email": {Old: "", New: fmt.Sprintf("ada%d@example.com", i)}}
	}
	// An earlier version's trail: 5 entries with random ids (the id is not hashed).
	var items []audit.Item
	for i := range 5 {
		items = append(items, audit.Item{Object: "contacts", Record: fmt.Sprintf("con%012d", i), Action: audit.ActionCreate, Changes: change(i)})
	}
	if err := app.RunInTransaction(func(tx core.App) error { return audit.AppendMany(tx, now, sys, items) }); err != nil {
		t.Fatal(err)
	}
	var old []string
	for seq := 1; seq <= 5; seq++ {
		id := core.GenerateDefaultRandomId()
		if _, err := app.DB().NewQuery(fmt.Sprintf("UPDATE relata_audit SET id = '%s' WHERE seq = %d", id, seq)).Execute(); err != nil {
			t.Fatal(err)
		}
		old = append(old, id)
	}
	// This version's entries: journaled (the record hooks), bulk (imports), direct (erasure).
	err := app.RunInTransaction(func(tx core.App) error {
		for i := 5; i < 8; i++ {
			if err := audit.Journal(tx, now, sys, "contacts", fmt.Sprintf("con%012d", i), audit.ActionCreate, change(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.RunInTransaction(func(tx core.App) error {
		return audit.AppendMany(tx, now, sys, []audit.Item{{Object: "contacts", Record: "con000000000008", Action: audit.ActionCreate, Changes: change(8)}})
	}); err != nil {
		t.Fatal(err)
	}
	direct, err := audit.Append(app, now, sys, "contacts", "con000000000009", audit.ActionCreate, change(9))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%015s", strconv.FormatInt(direct.Seq, 36)); direct.ID != want || direct.Seq != 10 {
		t.Fatalf("the direct append got id %q at %d, want %q at 10", direct.ID, direct.Seq, want)
	}
	if r := mustVerify(t, app); !r.OK() || r.Entries != 10 {
		t.Fatalf("the mixed trail: %+v", r)
	}
	entries, err := audit.Find(app, audit.Query{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	pattern := regexp.MustCompile(`^[a-z0-9]{15}$`)
	seen := map[string]bool{}
	prevID := ""
	for i := len(entries) - 1; i >= 0; i-- { // oldest first
		e := entries[i]
		if !pattern.MatchString(e.ID) || seen[e.ID] {
			t.Fatalf("entry %d: id %q is not a new 15-character [a-z0-9] id", e.Seq, e.ID)
		}
		seen[e.ID] = true
		if e.Seq <= 5 {
			if e.ID != old[e.Seq-1] {
				t.Fatalf("entry %d of the earlier version: id %q, want its own %q", e.Seq, e.ID, old[e.Seq-1])
			}
			continue
		}
		if n, err := strconv.ParseInt(e.ID, 36, 64); err != nil || n != e.Seq {
			t.Fatalf("entry %d: id %q is not its sequence number in base 36", e.Seq, e.ID)
		}
		if e.ID <= prevID {
			t.Fatalf("entry %d: id %q does not sort after the previous new id %q", e.Seq, e.ID, prevID)
		}
		prevID = e.ID
	}
	// Erase an earlier version's entry and a new one; the chain still verifies.
	newID := fmt.Sprintf("%015s", strconv.FormatInt(6, 36))
	if _, err := audit.Erase(app, now, audit.Actor{Kind: audit.KindSystem, Via: "privacy"}, "contacts", "con000000000000", []string{old[0], newID}); err != nil {
		t.Fatal(err)
	}
	if r := mustVerify(t, app); !r.OK() || r.Entries != 11 {
		t.Fatalf("after erasing %s and %s: %+v", old[0], newID, r)
	}
	var erased int
	if err := app.DB().NewQuery("SELECT count(*) FROM relata_audit WHERE erased").Row(&erased); err != nil || erased != 2 {
		t.Fatalf("%d entries erased (%v), want 2", erased, err)
	}
}

// TestAppendManyPreEncoded: entries appended with their changes encoded beforehand (Encode, as
// imports do on their reading goroutine) store exactly what AppendMany encodes itself — same
// JSON, same digest — and the trail verifies.
func TestAppendManyPreEncoded(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	now := time.Now()
	sys := audit.Actor{Kind: audit.KindImport, ID: "batch0000000001", Via: "import x.csv"}
	changes := map[string]audit.Change{
		"email": {New: "ada@example.com"}, "full_name": {New: `Ada "the first" Lovelace`},
		"tags": {New: []string{"vip", "è"}}, "amount": {New: 12.5}, "secret": {Redacted: true},
	}
	enc, err := audit.Encode(changes)
	if err != nil {
		t.Fatal(err)
	}
	items := []audit.Item{
		{Object: "contacts", Record: "con000000000001", Action: audit.ActionCreate, Changes: changes},
		{Object: "contacts", Record: "con000000000002", Action: audit.ActionCreate, Encoded: enc},
		{Object: "contacts", Record: "con000000000003", Action: audit.ActionCreate}, // no changes
	}
	if err := app.RunInTransaction(func(tx core.App) error { return audit.AppendMany(tx, now, sys, items) }); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Changes string `db:"changes"`
		Hash    string `db:"changes_hash"`
		Salt    string `db:"salt"`
	}
	if err := app.DB().NewQuery("SELECT changes, changes_hash, salt FROM relata_audit ORDER BY seq").All(&rows); err != nil {
		t.Fatal(err)
	}
	// Same JSON; each entry its own salt, so its own digest.
	if len(rows) != 3 || rows[0].Changes != enc.JSON || rows[1].Changes != enc.JSON || rows[1].Salt != enc.Salt || rows[1].Hash != enc.Hash ||
		rows[0].Salt == rows[1].Salt || rows[0].Hash == rows[1].Hash {
		t.Fatalf("entries %+v; want the first two with the JSON of %+v, the second with its salt and digest", rows, enc)
	}
	for i, r := range rows {
		if sum := sha256.Sum256([]byte(r.Salt + r.Changes)); len(r.Salt) != 32 || hex.EncodeToString(sum[:]) != r.Hash {
			t.Errorf("entry %d: digest %s of salt %q; want sha256(salt || changes)", i+1, r.Hash, r.Salt)
		}
	}
	if empty, _ := audit.Encode(nil); rows[2].Changes != "{}" || empty.JSON != "{}" {
		t.Errorf("an entry without changes: %+v", rows[2])
	}
	if r := mustVerify(t, app); !r.OK() || r.Entries != 3 {
		t.Fatalf("trail: %+v", r)
	}
}
