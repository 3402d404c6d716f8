package transfer_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// grouped1001 imports 1,001 new contacts (two groups of 500 and one of 1) in one transaction,
// the last row repeating the key of row 2 (an update of a record created earlier in the same
// file, in an earlier group): 1,001 created, 1 updated.
func grouped1001(t *testing.T, e *env) *transfer.Result {
	t.Helper()
	var b strings.Builder
	b.WriteString("Full name,Email,Job title\n")
	for i := 1; i <= 1001; i++ {
		fmt.Fprintf(&b, "Person %d,g%d@example.com,Clerk\n", i, i)
	}
	b.WriteString("Person 1 again,g1@example.com,Chief clerk\n")
	res := e.importBytes(t, "g.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts", Key: "email", BatchSize: 2000})
	if got := countsOf(res); got != (counts{created: 1001, updated: 1}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	return res
}

// TestUndoGroupedCreates: an import's created records are kept as a few "created_many" undo
// rows (not one row each), in change order with the update of a record the file created; undo
// removes them all except the records changed or deleted since, which it reports.
func TestUndoGroupedCreates(t *testing.T) {
	e := newEnv(t)
	res := grouped1001(t, e)
	records, rows, seqs := e.undoRows(t, res.Batch)
	if records != 1002 || rows > 6 || seqs != rows {
		t.Fatalf("undo rows list %d records in %d rows (%d numbers); want 1,002 records (1,001 created, 1 updated) in a few rows, one number each", records, rows, seqs)
	}
	var many int
	if err := e.app.DB().Select("count(*)").From(transfer.ChangesCollection).
		Where(dbx.HashExp{"batch": res.Batch, "action": "created_many"}).Row(&many); err != nil || many < 2 {
		t.Fatalf("%d created_many rows (%v); want the creates grouped", many, err)
	}
	// After the import: one record of the second group edited, one of the first deleted.
	edited := e.one(t, "contacts", "email", "g700@example.com")
	edited.Set("job_title", "Manager")
	if err := e.app.Save(edited); err != nil {
		t.Fatal(err)
	}
	if err := e.app.Delete(e.one(t, "contacts", "email", "g3@example.com")); err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	// g1 was created then updated by the batch: removed (its newest change's stamp matches).
	if u.Removed != 999 || u.Restored != 0 || len(u.Skipped) != 2 {
		t.Fatalf("undo removed %d, restored %d, skipped %v; want 999 removed, g700 and g3 reported", u.Removed, u.Restored, u.Skipped)
	}
	skipped := strings.Join(u.Skipped, "\n")
	if !strings.Contains(skipped, edited.Id+": changed since the import") || !strings.Contains(skipped, "deleted since the import") {
		t.Errorf("skipped: %v", u.Skipped)
	}
	if n := e.count(t, "contacts"); n != 1 {
		t.Fatalf("%d contacts after undo; want 1 (the one edited since)", n)
	}
	e.expectRecord(t, "contacts", "email", "g700@example.com", map[string]string{"job_title": "Manager"})
}

// TestUndoOldFormBatch: a batch recorded before grouped undo rows existed (one "created" row
// per record, written as the earlier code wrote them) is undone as before.
func TestUndoOldFormBatch(t *testing.T) {
	e := newEnv(t)
	res := grouped1001(t, e)
	// Rewrite the batch's undo rows into the old form, in the same order.
	var olds []*core.Record
	if err := e.app.RecordQuery(transfer.ChangesCollection).AndWhere(dbx.HashExp{"batch": res.Batch}).OrderBy("seq ASC").All(&olds); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.DB().Delete(transfer.ChangesCollection, dbx.HashExp{"batch": res.Batch}).Execute(); err != nil {
		t.Fatal(err)
	}
	seq := 0
	insert := func(object, record, action, before, stamp string) {
		seq++
		if _, err := e.app.DB().Insert(transfer.ChangesCollection, dbx.Params{"id": core.GenerateDefaultRandomId(), "batch": res.Batch, "seq": seq,
			"object": object, "record": record, "action": action, "before": before, "stamp": stamp}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range olds {
		if c.GetString("action") != "created_many" {
			insert(c.GetString("object"), c.GetString("record"), c.GetString("action"), c.GetString("before"), c.GetString("stamp"))
			continue
		}
		var pairs [][2]string
		if err := json.Unmarshal([]byte(c.GetString("before")), &pairs); err != nil {
			t.Fatal(err)
		}
		for _, p := range pairs {
			insert(c.GetString("object"), p[0], "created", "{}", p[1])
		}
	}
	if records, rows, _ := e.undoRows(t, res.Batch); records != 1002 || rows != 1002 {
		t.Fatalf("old-form rows: %d records in %d rows; want 1,002 in 1,002", records, rows)
	}
	edited := e.one(t, "contacts", "email", "g2@example.com")
	edited.Set("job_title", "Manager")
	if err := e.app.Save(edited); err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Removed != 1000 || len(u.Skipped) != 1 || !strings.Contains(u.Skipped[0], edited.Id+": changed since the import") {
		t.Fatalf("undo %+v; want 1,000 removed and g2 reported", u)
	}
	if n := e.count(t, "contacts"); n != 1 {
		t.Fatalf("%d contacts after undo; want 1", n)
	}
}

// TestImportKeysReadByIndexWithStaleStatistics: once PRAGMA optimize has recorded a small
// contacts table (PocketBase runs it after every schema change and nightly), SQLite reads
// "email IN (400 values)" by scanning the table; the import's key and unique reads name the
// index and keep searching it. The import after such statistics still finds its keys.
func TestImportKeysReadByIndexWithStaleStatistics(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name,Email\n")
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&b, "Old %d,old%d@example.com\n", i, i)
	}
	e.importBytes(t, "old.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts", Key: "email"})
	if _, err := e.app.DB().NewQuery("ANALYZE contacts").Execute(); err != nil {
		t.Fatal(err)
	}
	values := make([]any, 400)
	for i := range values {
		values[i] = fmt.Sprintf("new%d@example.com", i)
	}
	plain, err := transfer.InQueryPlan(e.app.DB(), "contacts", "email", values, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "SCAN contacts") {
		t.Logf("control: SQLite's own plan is %q (the statistics no longer make it scan)", plain)
	}
	for _, col := range []string{"email"} {
		got, err := transfer.InQueryPlan(e.app.DB(), "contacts", col, values, true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, "SEARCH contacts USING INDEX") {
			t.Errorf("the import reads %s by %q; want a search of its index", col, got)
		}
	}
	// An import after the statistics: its keys found (updates), new rows created.
	b.Reset()
	b.WriteString("Full name,Email\n")
	for i := 1; i <= 1001; i++ {
		fmt.Fprintf(&b, "Person %d,old%d@example.com\n", i, i)
	}
	res := e.importBytes(t, "after.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts", Key: "email"})
	if got := countsOf(res); got != (counts{updated: 200, created: 801}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
}

// TestImportIDsGrowWithTime: records created by the bulk path get ids of PocketBase's shape
// whose first 9 characters (the creation time) never go down in file order, all distinct.
func TestImportIDsGrowWithTime(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name,Email\n")
	for i := 1; i <= 1500; i++ {
		fmt.Fprintf(&b, "P %d,id%d@example.com\n", i, i)
	}
	res := e.importBytes(t, "ids.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts"})
	if res.Created != 1500 {
		t.Fatalf("%+v; errors %v", countsOf(res), res.Errors)
	}
	var ids []string
	if err := e.app.DB().NewQuery("SELECT id FROM contacts WHERE email LIKE 'id%@example.com' ORDER BY rowid").Column(&ids); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	pattern := regexp.MustCompile(`^[a-z0-9]{15}$`)
	for i, id := range ids {
		if !pattern.MatchString(id) || seen[id] {
			t.Fatalf("id %d %q: not of the id field's shape, or repeated", i, id)
		}
		seen[id] = true
		if i > 0 && id[:9] < ids[i-1][:9] {
			t.Fatalf("id %d %q comes before the previous %q", i, id, ids[i-1])
		}
	}
	if len(ids) != 1500 {
		t.Fatalf("%d ids", len(ids))
	}
}

// TestImportIDClashFailsItsRow: a new record's id that a stored record holds (another import's
// time-ordered id drawn alike) fails that row alone, with its row number; the others are
// created in the same chunk.
func TestImportIDClashFailsItsRow(t *testing.T) {
	e := newEnv(t)
	taken := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"id": "0000000000taken", "full_name": "Stored", "email": "stored@example.com"})
	n := 0
	defer transfer.SetNewID(func() string {
		n++
		if n == 2 {
			return taken.Id
		}
		return fmt.Sprintf("0000000000new%02d", n)
	})()
	res := e.importBytes(t, "clash.csv", []byte("Full name,Email\nA,a@example.com\nB,b@example.com\nC,c@example.com\n"), transfer.ImportOptions{Object: "contacts"})
	if got := countsOf(res); got != (counts{created: 2, failed: 1}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	if res.Errors[0].Row != 3 || !strings.Contains(res.Errors[0].Error(), `a record with id "0000000000taken" exists`) {
		t.Errorf("error %v; want row 3's id clash", res.Errors[0])
	}
	e.expectRecord(t, "contacts", "id", taken.Id, map[string]string{"full_name": "Stored"})
	e.expectRecord(t, "contacts", "email", "c@example.com", map[string]string{"id": "0000000000new03"})
}
