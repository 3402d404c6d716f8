package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// pipeCSV is 1,001 contacts (no key column clashes unless asked): row i of the data has
// email p<i>@example.com; bad maps a data row to its replacement line.
func pipeCSV(bad map[int]string) []byte {
	var b strings.Builder
	b.WriteString("Full name,Email,Phone,Company\n")
	for i := 1; i <= 1001; i++ {
		if line, ok := bad[i]; ok {
			b.WriteString(line + "\n")
			continue
		}
		fmt.Fprintf(&b, "Person %d,p%d@example.com,+39 02 %07d,Acme S.p.A.\n", i, i, i)
	}
	return []byte(b.String())
}

// TestImportPipelineRowsFailAlone imports 1,001 new contacts in ONE transaction (two full
// groups of 500 handed to the writer, then one row) without a key. Three rows fail, each
// alone, with its row and column: one in the importer (a bad phone, data row 600), two in the
// writer — an email a stored contact holds (data row 300, first group) and an email an
// earlier row of the file holds (data row 800, in the second group, the first row's in the
// first: the writer's unique check of the second group sees the first group written). The
// errors come back in file order; each stored record has one audit entry and one undo row;
// the trail verifies; undo removes exactly what was created. The same file imported with the
// writer off (one goroutine) gives the same result.
func TestImportPipelineRowsFailAlone(t *testing.T) {
	csv := pipeCSV(map[int]string{
		300: "Person 300,stored@example.com,+39 02 0000300,Acme S.p.A.",
		600: "Person 600,p600@example.com,call me,Acme S.p.A.",
		800: "Person 800,P200@example.com,+39 02 0000800,Acme S.p.A.",
	})
	run := func(t *testing.T) (*env, *transfer.Result) {
		e := newEnv(t)
		schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Stored", "email": "stored@example.com"})
		res := e.importBytes(t, "pipe.csv", csv, transfer.ImportOptions{Object: "contacts", BatchSize: 5000})
		return e, res
	}
	e, res := run(t)
	if got := countsOf(res); got != (counts{created: 998, failed: 3}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	want := []struct {
		row    int
		column string
		msg    string
	}{{301, "Email", "unique"}, {601, "Phone", ""}, {801, "Email", "unique"}}
	if len(res.Errors) != len(want) {
		t.Fatalf("errors %v", res.Errors)
	}
	for i, w := range want {
		if got := res.Errors[i]; got.Row != w.row || got.Column != w.column || !strings.Contains(got.Message, w.msg) {
			t.Errorf("error %d: %v; want row %d column %s (%s)", i, got, w.row, w.column, w.msg)
		}
		if res.FailedRows[i].Row != w.row {
			t.Errorf("failed row %d: %d; want %d", i, res.FailedRows[i].Row, w.row)
		}
	}
	if n := e.count(t, "contacts"); n != 999 {
		t.Fatalf("%d contacts; want 999 (998 imported, 1 stored)", n)
	}
	for _, email := range []string{"p1@example.com", "p200@example.com", "p500@example.com", "p501@example.com", "p1000@example.com", "p1001@example.com"} {
		e.expectRecord(t, "contacts", "email", email, map[string]string{"company": e.acme.Id})
	}
	var entries int
	if err := audit.Flush(e.app); err != nil {
		t.Fatal(err)
	}
	if err := e.app.DB().Select("count(*)").From(audit.Collection).
		Where(dbx.HashExp{"actor_kind": audit.KindImport, "actor_id": res.Batch, "action": audit.ActionCreate}).Row(&entries); err != nil {
		t.Fatal(err)
	}
	changes, rows, seqs := e.undoRows(t, res.Batch)
	if entries != 998 || changes != 998 || seqs != rows {
		t.Fatalf("%d audit entries, %d records in %d undo rows (%d numbers); want 998 entries and records, one number a row", entries, changes, rows, seqs)
	}
	if rep, err := audit.Verify(e.app); err != nil || !rep.OK() {
		t.Fatalf("trail does not verify: %v %+v", err, rep)
	}
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil || u.Removed != 998 || len(u.Skipped) != 0 {
		t.Fatalf("undo %+v, %v", u, err)
	}
	if n := e.count(t, "contacts"); n != 1 {
		t.Fatalf("%d contacts after undo; want 1", n)
	}

	defer transfer.SetSerialImport(true)()
	_, serial := run(t)
	if countsOf(serial) != countsOf(res) || !reflect.DeepEqual(serial.Errors, res.Errors) {
		t.Fatalf("one goroutine: %+v %v; writer: %+v %v", countsOf(serial), serial.Errors, countsOf(res), res.Errors)
	}
}

// TestImportPipelineKeyRepeatedInFlight upserts by email in one transaction: data row 700
// repeats the email of row 450, whose record the writer may still be writing when the rows
// 501-1000 look their keys up; row 1001 repeats row 999's, queued and not yet handed over.
// Both merge into the first record (updated, with a warning), none is created twice.
func TestImportPipelineKeyRepeatedInFlight(t *testing.T) {
	e := newEnv(t)
	csv := pipeCSV(map[int]string{
		700:  "Again 450,p450@example.com,+39 02 0000700,Beta Srl",
		1001: "Again 999,P999@example.com,+39 02 0001001,Beta Srl",
	})
	res := e.importBytes(t, "pipe.csv", csv, transfer.ImportOptions{Object: "contacts", Key: "email", BatchSize: 5000})
	if got := countsOf(res); got != (counts{created: 999, updated: 2}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	if len(res.Warnings) != 2 || res.Warnings[0].Row != 701 || res.Warnings[1].Row != 1002 {
		t.Fatalf("warnings %v", res.Warnings)
	}
	if n := e.count(t, "contacts"); n != 999 {
		t.Fatalf("%d contacts; want 999", n)
	}
	e.expectRecord(t, "contacts", "email", "p450@example.com", map[string]string{"full_name": "Again 450", "company": e.beta.Id})
	e.expectRecord(t, "contacts", "email", "p999@example.com", map[string]string{"full_name": "Again 999", "company": e.beta.Id})
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil || u.Removed != 999 || u.Restored != 0 || len(u.Skipped) != 0 {
		t.Fatalf("undo %+v, %v", u, err)
	}
}

// TestImportPipelineCancel cancels an import of 1,001 rows, 400 a transaction, after its
// first transaction: the writer finishes the groups it was given before the transaction
// commits, exactly the first 400 records stay, the batch is "cancelled", and undo removes them.
func TestImportPipelineCancel(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	opts := transfer.ImportOptions{Object: "contacts", File: "pipe.csv", BatchSize: 400, Context: ctx,
		Progress: func(r *transfer.Result, rows int) {
			calls++
			if r.Created != 400 || rows != 400 {
				t.Errorf("progress: %d created of %d rows; want 400 of 400", r.Created, rows)
			}
			cancel()
		}}
	res, err := e.svc.Import(strings.NewReader(string(pipeCSV(nil))), opts)
	if !errors.Is(err, transfer.ErrCancelled) || calls != 1 {
		t.Fatalf("%v after %d progress calls; want ErrCancelled after 1", err, calls)
	}
	if res.Created != 400 || e.count(t, "contacts") != 400 {
		t.Fatalf("%d created, %d stored; want 400", res.Created, e.count(t, "contacts"))
	}
	b, err := e.app.FindRecordById(transfer.BatchesCollection, res.Batch)
	if err != nil || b.GetString("status") != "cancelled" {
		t.Fatalf("batch %v: %v", b, err)
	}
	if u, err := e.svc.Undo(res.Batch, nil); err != nil || u.Removed != 400 {
		t.Fatalf("undo %+v, %v", u, err)
	}
}

// TestImportDryRunCancel cancels a dry run of 5,000 rows (one transaction, rolled back) when
// its progress first passes 1,000 rows: it stops within the next group of rows (the rows one
// key look-up reads, 500), not at the end of the file or of a chunk, and writes nothing. The
// context is cancelled from the progress callback, which a dry run calls after each group,
// so the test does not depend on timing; the CLI's Ctrl-C cancels the same context.
func TestImportDryRunCancel(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name,Email\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "Person %d,p%d@dry.example\n", i, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelledAt := 0
	opts := transfer.ImportOptions{Object: "contacts", File: "dry.csv", DryRun: true, Context: ctx, DuplicateCheck: -1,
		Progress: func(r *transfer.Result, rows int) {
			if cancelledAt == 0 && rows >= 1000 {
				cancelledAt = rows
				cancel()
			}
		}}
	res, err := e.svc.Import(strings.NewReader(b.String()), opts)
	if !errors.Is(err, transfer.ErrCancelled) || res == nil {
		t.Fatalf("%v; want ErrCancelled with the counts so far", err)
	}
	if n := res.Created + res.Failed; cancelledAt == 0 || n < cancelledAt || n > cancelledAt+500 {
		t.Fatalf("the dry run went on to %d rows after it was cancelled at %d; want at most one more group of 500", n, cancelledAt)
	}
	if n := e.count(t, "contacts"); n != 0 {
		t.Fatalf("%d contacts stored by a dry run", n)
	}
}
