package audit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
)

// sha256Hex is the hex SHA-256 of the concatenation of parts.
func sha256Hex(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(h[:])
}

// stored is an entry's row as the database holds it.
type stored struct {
	ID      string `db:"id"`
	Seq     int64  `db:"seq"`
	Changes string `db:"changes"`
	Hash    string `db:"changes_hash"`
	Salt    string `db:"salt"`
	Erased  bool   `db:"erased"`
}

func readEntry(t *testing.T, app core.App, id string) stored {
	t.Helper()
	var s stored
	if err := app.DB().Select("id", "seq", "changes", "changes_hash", "salt", "erased").From(audit.Collection).
		AndWhere(dbx.HashExp{"id": id}).One(&s); err != nil {
		t.Fatalf("read entry %s: %v", id, err)
	}
	return s
}

// insertOldEntry appends an entry as versions before salts wrote it, with SQL: no salt,
// changes_hash = sha256(changes), the chain hash over the documented JSON array.
func insertOldEntry(t *testing.T, app core.App, at, object, record, action, changes string) string {
	t.Helper()
	var head struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	_ = app.DB().NewQuery("SELECT seq, hash FROM relata_audit ORDER BY seq DESC LIMIT 1").One(&head)
	seq := head.Seq + 1
	changesHash := sha256Hex(changes)
	fields, err := json.Marshal([]any{seq, at, audit.KindSystem, "", "", object, record, action, changesHash, head.Hash})
	if err != nil {
		t.Fatal(err)
	}
	id := core.GenerateDefaultRandomId()
	_, err = app.DB().NewQuery(`INSERT INTO relata_audit (id, seq, at, actor_kind, actor_id, via, object, record, action, changes, changes_hash, erased, prev_hash, hash)
		VALUES ({:id}, {:seq}, {:at}, {:kind}, '', '', {:object}, {:record}, {:action}, {:changes}, {:ch}, 0, {:prev}, {:hash})`).Bind(dbx.Params{
		"id": id, "seq": seq, "at": at, "kind": audit.KindSystem, "object": object, "record": record, "action": action,
		"changes": changes, "ch": changesHash, "prev": head.Hash, "hash": sha256Hex(string(fields)),
	}).Execute()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestErasedDigestCannotTestGuesses: an entry written by each path (journal, direct append,
// bulk) has a salt and the digest sha256(salt || changes); once erased, whole or in part, its
// salt is gone from the database and the kept digest matches neither sha256 of the original
// changes nor sha256 of any salt still in the trail followed by them — the test an admin with
// the erased person's email in mind would run. The chain still verifies.
func TestErasedDigestCannotTestGuesses(t *testing.T) {
	t.Parallel()
	const email = "ada@example.com"
	scenarios := []struct {
		name   string
		write  string // journal, append or bulk
		fields []string
	}{
		{"journaled, erased whole", "journal", nil},
		{"appended, erased whole", "append", nil},
		{"bulk, erased whole", "bulk", nil},
		{"journaled, email erased", "journal", []string{"email"}},
		{"appended, email erased", "append", []string{"email"}},
		{"bulk, email erased", "bulk", []string{"email"}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			app := schemastest.OpenApp(t, t.TempDir())
			now := time.Now()
			sys := audit.Actor{Kind: audit.KindSystem}
			changes := map[string]audit.Change{"email": {New: email}, "job_title": {New: "Engineer"}}
			// Other entries, so that the trail holds salts that are not the erased entry's.
			for i := range 3 {
				if _, err := audit.Append(app, now, sys, "contacts", fmt.Sprintf("other%010d", i), audit.ActionCreate,
					map[string]audit.Change{"email": {New: fmt.Sprintf("other%d@example.com", i)}}); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			switch sc.write {
			case "journal":
				err = app.RunInTransaction(func(tx core.App) error {
					return audit.Journal(tx, now, sys, "contacts", "con000000000001", audit.ActionCreate, changes)
				})
			case "append":
				_, err = audit.Append(app, now, sys, "contacts", "con000000000001", audit.ActionCreate, changes)
			case "bulk":
				err = app.RunInTransaction(func(tx core.App) error {
					enc, err := audit.Encode(changes)
					if err != nil {
						return err
					}
					return audit.AppendMany(tx, now, sys, []audit.Item{{Object: "contacts", Record: "con000000000001", Action: audit.ActionCreate, Encoded: enc}})
				})
			}
			if err != nil {
				t.Fatal(err)
			}
			found, err := audit.Find(app, audit.Query{Object: "contacts", Record: "con000000000001"})
			if err != nil || len(found) != 1 {
				t.Fatalf("find: %d entries, %v", len(found), err)
			}
			before := readEntry(t, app, found[0].ID)
			if len(before.Salt) != 32 || before.Hash != sha256Hex(before.Salt, before.Changes) || before.Hash == sha256Hex(before.Changes) {
				t.Fatalf("before erasure: %+v; want a 32-character salt and digest sha256(salt || changes)", before)
			}

			var whole []string
			var fields map[string][]string
			if sc.fields == nil {
				whole = []string{before.ID}
			} else {
				fields = map[string][]string{before.ID: sc.fields}
			}
			if _, err := audit.EraseFields(app, now, sys, "contacts", "con000000000001", whole, fields); err != nil {
				t.Fatal(err)
			}
			after := readEntry(t, app, before.ID)
			if !after.Erased || after.Hash != before.Hash || strings.Contains(after.Changes, email) {
				t.Fatalf("after erasure: %+v; want it erased, the digest kept, the email gone", after)
			}
			if after.Salt != "" {
				t.Errorf("the erased entry keeps its salt %q", after.Salt)
			}
			if sc.fields != nil && !strings.Contains(after.Changes, "Engineer") {
				t.Errorf("erased in part: %s; want the job title kept", after.Changes)
			}
			// The guesses: the original changes (the right guess) alone, and after every salt
			// the database still holds.
			if after.Hash == sha256Hex(before.Changes) {
				t.Errorf("the kept digest is sha256 of the original changes: the guess can be tested")
			}
			var salts []string
			if err := app.DB().NewQuery("SELECT salt FROM relata_audit WHERE salt != '' UNION SELECT salt FROM _relata_audit_journal WHERE salt != ''").Column(&salts); err != nil {
				t.Fatal(err)
			}
			if len(salts) < 4 { // the other entries' and the erasure's
				t.Fatalf("%d salts in the trail; want at least 4", len(salts))
			}
			for _, s := range append(salts, after.Salt) {
				if after.Hash == sha256Hex(s, before.Changes) {
					t.Errorf("the kept digest is sha256 of salt %q and the original changes: the guess can be tested", s)
				}
			}
			if r := mustVerify(t, app); !r.OK() {
				t.Fatalf("after erasure: %v", r.Problems)
			}
		})
	}
}

// TestVerifyMixedTrail: a trail written partly before salts (an entry inserted the old way
// with SQL, and a row an older version left in the journal without a salt) and partly after
// (journaled, appended, bulk), with old and new entries erased whole and in part, verifies;
// the old entries keep their unsalted digest.
func TestVerifyMixedTrail(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	now := time.Now()
	at := now.UTC().Format("2006-01-02 15:04:05.000Z")
	sys := audit.Actor{Kind: audit.KindSystem}
	oldWhole := insertOldEntry(t, app, at, "contacts", "con000000000001", audit.ActionCreate, `{"email":{"new":"ada@example.com"}}`)
	oldPart := insertOldEntry(t, app, at, "activities", "act000000000001", audit.ActionCreate, `{"subject":{"new":"Call Ada"},"type":{"new":"call"}}`)
	insertOldEntry(t, app, at, "deals", "del000000000001", audit.ActionCreate, `{"name":{"new":"Deal"}}`)
	// A row an older version journaled (no salt column in its insert), chained by this one.
	if _, err := app.DB().NewQuery(`INSERT INTO _relata_audit_journal (at, actor_kind, actor_id, via, object, record, action, changes)
		VALUES ({:at}, 'system', '', '', 'deals', 'del000000000002', 'create', '{"name":{"new":"Old journal"}}')`).Bind(dbx.Params{"at": at}).Execute(); err != nil {
		t.Fatal(err)
	}
	if err := audit.Flush(app); err != nil {
		t.Fatal(err)
	}
	// This version's entries.
	newWhole, err := audit.Append(app, now, sys, "contacts", "con000000000002", audit.ActionCreate,
		map[string]audit.Change{"email": {New: "bob@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.RunInTransaction(func(tx core.App) error {
		return audit.Journal(tx, now, sys, "activities", "act000000000002", audit.ActionCreate,
			map[string]audit.Change{"subject": {New: "Call Bob"}, "type": {New: "call"}})
	}); err != nil {
		t.Fatal(err)
	}
	if err := app.RunInTransaction(func(tx core.App) error {
		return audit.AppendMany(tx, now, sys, []audit.Item{{Object: "deals", Record: "del000000000003", Action: audit.ActionCreate,
			Changes: map[string]audit.Change{"name": {New: "Bulk"}}}})
	}); err != nil {
		t.Fatal(err)
	}
	if r := mustVerify(t, app); !r.OK() || r.Entries != 7 {
		t.Fatalf("the mixed trail: %+v", r)
	}
	var rows []stored
	if err := app.DB().Select("id", "seq", "changes", "changes_hash", "salt", "erased").From(audit.Collection).All(&rows); err != nil {
		t.Fatal(err)
	}
	unsalted := 0
	for _, r := range rows {
		if r.Salt == "" && r.Hash == sha256Hex(r.Changes) {
			unsalted++
		}
	}
	if unsalted != 4 {
		t.Fatalf("%d entries with the unsalted digest; want the 4 written the old way", unsalted)
	}
	found, err := audit.Find(app, audit.Query{Object: "activities", Record: "act000000000002"})
	if err != nil || len(found) != 1 {
		t.Fatalf("find the journaled entry: %d, %v", len(found), err)
	}
	newPart := found[0].ID
	if _, err := audit.EraseFields(app, now, sys, "privacy", "subject", []string{oldWhole, newWhole.ID},
		map[string][]string{oldPart: {"subject"}, newPart: {"subject"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{oldWhole, oldPart, newWhole.ID, newPart} {
		if e := readEntry(t, app, id); !e.Erased || e.Salt != "" {
			t.Errorf("entry %d after erasure: %+v; want erased, no salt", e.Seq, e)
		}
	}
	if r := mustVerify(t, app); !r.OK() || r.Entries != 8 {
		t.Fatalf("the mixed trail after erasure: %+v", r)
	}
}

// TestVerifyDetectsTamperedSaltedEntries edits salted entries with SQL: a changed value, a
// changed, emptied or malformed salt, and an erased entry whose salt was put back are each
// reported at their entry.
func TestVerifyDetectsTamperedSaltedEntries(t *testing.T) {
	t.Parallel()
	otherSalt := strings.Repeat("0f", 16)
	scenarios := []struct {
		name   string
		tamper string // SQL run on a trail of 4 salted entries, the 2nd erased (the 4th is the erasure)
		want   string // in the problem's reason; "" = still intact
		seq    int64
	}{
		{"untouched", "", "", 0},
		{"a value changed", `UPDATE relata_audit SET changes = '{"name":{"new":"Forged"}}' WHERE seq = 3`, "changed values were edited", 3},
		{"the salt changed", `UPDATE relata_audit SET salt = '` + otherSalt + `' WHERE seq = 3`, "changed values were edited", 3},
		{"the salt emptied", `UPDATE relata_audit SET salt = '' WHERE seq = 1`, "changed values were edited", 1},
		{"the salt malformed", `UPDATE relata_audit SET salt = upper(salt) WHERE seq = 3`, "salt was edited", 3},
		{"value and salt changed together", `UPDATE relata_audit SET changes = '{"name":{"new":"Forged"}}', salt = '` + otherSalt + `' WHERE seq = 1`, "changed values were edited", 1},
		{"an erased entry given a salt", `UPDATE relata_audit SET salt = '` + otherSalt + `' WHERE seq = 2`, "keeps its salt", 2},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			app := schemastest.OpenApp(t, t.TempDir())
			at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			sys := audit.Actor{Kind: audit.KindSystem}
			var ids []string
			for i := 1; i <= 3; i++ {
				e, err := audit.Append(app, at, sys, "deals", fmt.Sprintf("deal%d", i), audit.ActionCreate, map[string]audit.Change{"name": {New: fmt.Sprintf("Deal %d", i)}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, e.ID)
			}
			if _, err := audit.Erase(app, at, sys, "deals", "deal2", ids[1:2]); err != nil {
				t.Fatal(err)
			}
			if sc.tamper != "" {
				if _, err := app.DB().NewQuery(sc.tamper).Execute(); err != nil {
					t.Fatal(err)
				}
			}
			r := mustVerify(t, app)
			if sc.want == "" {
				if !r.OK() || r.Entries != 4 {
					t.Fatalf("intact trail: %+v", r)
				}
				return
			}
			wantProblem(t, r, sc.want, sc.seq)
		})
	}
}

// TestChainingAgainGivesTheSameDigest: the journal's rows are chained, the transaction rolls
// back (a crash before the commit), and they are chained again: each entry gets the same
// salt and digest both times — the salt was fixed when the change was journaled.
func TestChainingAgainGivesTheSameDigest(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	now := time.Now()
	sys := audit.Actor{Kind: audit.KindSystem}
	if err := app.RunInTransaction(func(tx core.App) error {
		for i := range 5 {
			if err := audit.Journal(tx, now, sys, "contacts", fmt.Sprintf("con%012d", i), audit.ActionCreate,
				map[string]audit.Change{"email": {New: fmt.Sprintf("ada%d@example.com", i)}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read := func(db dbx.Builder) []stored {
		t.Helper()
		var rows []stored
		if err := db.Select("id", "seq", "changes", "changes_hash", "salt", "erased").From(audit.Collection).OrderBy("seq").All(&rows); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	var first []stored
	crash := errors.New("crash before the commit")
	err := app.RunInTransaction(func(tx core.App) error {
		if err := audit.Flush(tx); err != nil {
			return err
		}
		first = read(tx.DB())
		return crash
	})
	if !errors.Is(err, crash) {
		t.Fatalf("the first chaining: %v", err)
	}
	if n, _, err := audit.Pending(app); err != nil || n != 5 {
		t.Fatalf("pending after the rollback: %d, %v; want 5", n, err)
	}
	if err := audit.Flush(app); err != nil {
		t.Fatal(err)
	}
	second := read(app.DB())
	if len(first) != 5 || fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("chained twice:\n%+v\n%+v\nwant the same entries", first, second)
	}
	for _, e := range second {
		if len(e.Salt) != 32 || e.Hash != sha256Hex(e.Salt, e.Changes) {
			t.Errorf("entry %d: %+v; want digest sha256(salt || changes)", e.Seq, e)
		}
	}
	if r := mustVerify(t, app); !r.OK() {
		t.Fatal(r.Problems)
	}
}
