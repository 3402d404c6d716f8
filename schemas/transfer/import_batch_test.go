package transfer_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// TestImportBatchPathRowsFailAlone imports 1,001 new contacts through the bulk path (records,
// audit entries and undo data written by prepared statements, 500 records a write, 1,000 rows
// a transaction) with two bad rows inside a write: a phone that breaks the field's pattern
// (caught by the field validators) and an email a stored contact holds (caught by the unique
// check against the database). Each fails alone with its row and column; every other row is
// stored with its audit entry and undo data; the trail verifies; importing the file again
// changes none of them; undo removes exactly what the import created.
func TestImportBatchPathRowsFailAlone(t *testing.T) {
	e := newEnv(t)
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Stored", "email": "taken@example.com"})
	var b strings.Builder
	b.WriteString("Full name,Email,Phone,Company,Owner\n")
	for i := 1; i <= 1001; i++ {
		phone, email := fmt.Sprintf("+39 02 %07d", i), fmt.Sprintf("p%d@example.com", i)
		switch i {
		case 250: // file row 251, in the first write of the first transaction
			phone = "call me"
		case 700: // file row 701, in the second write
			email = "TAKEN@example.com"
		}
		fmt.Fprintf(&b, "Person %d,%s,%s,Acme S.p.A.,alice@example.com\n", i, email, phone)
	}
	before := e.count(t, audit.Collection)
	res := e.importBytes(t, "batch.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts", BatchSize: 1000})
	if got := countsOf(res); got != (counts{created: 999, failed: 2}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	if len(res.Errors) != 2 || res.Errors[0].Row != 251 || res.Errors[0].Column != "Phone" ||
		res.Errors[1].Row != 701 || res.Errors[1].Column != "Email" || !strings.Contains(res.Errors[1].Message, "unique") {
		t.Fatalf("errors %v; want row 251 Phone, row 701 Email (unique)", res.Errors)
	}
	if n := e.count(t, "contacts"); n != 1000 {
		t.Fatalf("%d contacts; want 1000 (999 imported, 1 stored)", n)
	}
	for _, email := range []string{"p1@example.com", "p249@example.com", "p251@example.com", "p699@example.com", "p701@example.com", "p1001@example.com"} {
		e.expectRecord(t, "contacts", "email", email, map[string]string{"company": e.acme.Id, "owner": e.alice.Id})
	}
	if _, err := e.app.FindFirstRecordByData("contacts", "email", "p250@example.com"); err == nil {
		t.Error("the row with a bad phone was stored")
	}
	// One audit entry and one undo change per imported record, attributed to the batch.
	var entries int
	if err := e.app.DB().Select("count(*)").From(audit.Collection).
		Where(dbx.HashExp{"actor_kind": audit.KindImport, "actor_id": res.Batch, "action": audit.ActionCreate}).Row(&entries); err != nil {
		t.Fatal(err)
	}
	changes, undoRows, _ := e.undoRows(t, res.Batch)
	if entries != 999 || changes != 999 || e.count(t, audit.Collection)-before != 999 {
		t.Fatalf("%d audit entries of the batch, %d records in undo rows, %d new entries; want 999 each", entries, changes, e.count(t, audit.Collection)-before)
	}
	// The created records are listed by a few "created_many" rows, not one row each.
	if undoRows > 4 {
		t.Errorf("%d undo rows for 999 created records; want them grouped", undoRows)
	}
	if rep, err := audit.Verify(e.app); err != nil || !rep.OK() {
		t.Fatalf("trail does not verify: %v %+v", err, rep)
	}
	// The same file again, matched by email: the imported rows are unchanged and write
	// nothing; the row that clashed now matches the stored contact and updates it (one entry).
	afterFirst := e.count(t, audit.Collection)
	again := e.importBytes(t, "batch.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts", Key: "email", BatchSize: 1000})
	if got := countsOf(again); got != (counts{unchanged: 999, updated: 1, failed: 1}) {
		t.Fatalf("re-import %+v; errors %v", got, again.Errors)
	}
	if n := e.count(t, audit.Collection); n != afterFirst+1 {
		t.Errorf("re-import wrote %d audit entries; want 1 (the stored contact's update)", n-afterFirst)
	}
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil || u.Removed != 999 || u.Restored != 0 || len(u.Skipped) != 0 {
		t.Fatalf("undo %+v, %v", u, err)
	}
	if n := e.count(t, "contacts"); n != 1 {
		t.Fatalf("%d contacts after undo; want only the stored one", n)
	}
	e.expectRecord(t, "contacts", "email", "taken@example.com", map[string]string{"full_name": "Person 700"})
}

// TestImportBatchPathSalesUserRule imports 1,001 contacts as a sales user through the bulk
// path, where her create rule is evaluated for each group of records at once: the two rows
// that give a contact to another rep fail alone, with their row and the Owner column, in
// file order with the other errors; an unowned row becomes hers.
func TestImportBatchPathSalesUserRule(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name,Email,Owner,Phone\n")
	for i := 1; i <= 1001; i++ {
		owner, phone := "alice@example.com", ""
		switch i {
		case 100, 999: // file rows 101 and 1000: someone else's (by name: his email is hidden from her)
			owner = "Bob Berg"
		case 500: // file row 501: no owner given
			owner = ""
		case 600: // file row 601: a bad phone, found while the row is read
			phone = "call me"
		}
		fmt.Fprintf(&b, "Person %d,p%d@example.com,%s,%s\n", i, i, owner, phone)
	}
	res := e.importBytes(t, "alice.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts", As: e.alice, BatchSize: 1000})
	if got := countsOf(res); got != (counts{created: 998, failed: 3}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	rows := map[int]string{}
	for _, er := range res.Errors {
		rows[er.Row] = er.Column + ": " + er.Message
	}
	for _, r := range []int{101, 1000} {
		if !strings.HasPrefix(rows[r], "Owner: you may not create this record") {
			t.Errorf("row %d: %q; want the Owner column refused", r, rows[r])
		}
	}
	if !strings.HasPrefix(rows[601], "Phone: ") {
		t.Errorf("row 601: %q", rows[601])
	}
	var bobs int
	if err := e.app.DB().Select("count(*)").From("contacts").Where(dbx.HashExp{"owner": e.bob.Id}).Row(&bobs); err != nil || bobs != 0 {
		t.Fatalf("%d contacts given to bob (%v)", bobs, err)
	}
	e.expectRecord(t, "contacts", "email", "p500@example.com", map[string]string{"owner": e.alice.Id})
	if n := e.count(t, "contacts"); n != 998 {
		t.Fatalf("%d contacts; want 998", n)
	}
}
