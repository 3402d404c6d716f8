package transfer_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/transfer"
)

// TestImportAcrossBatchBoundaries imports 3,001 rows in transactions of 1,000: a bad row right
// after the first boundary, a duplicate whose first row is in an earlier transaction, then
// exports across the export's 500-record chunks, and undoes it all.
func TestImportAcrossBatchBoundaries(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name;Email;Company\n")
	for i := 1; i <= 3001; i++ {
		switch i {
		case 1001: // file row 1002, the first row of the second transaction
			b.WriteString(fmt.Sprintf("Bad %d;not-an-email;Acme S.p.A.\n", i))
		case 2500: // same email as data row 10, in the third transaction
			b.WriteString("Again 10;p10@example.com;Beta Srl\n")
		default:
			b.WriteString(fmt.Sprintf("Person %d;p%d@example.com;Acme S.p.A.\n", i, i))
		}
	}
	res := e.importBytes(t, "big.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts", Key: "email", BatchSize: 1000})
	if got := countsOf(res); got != (counts{created: 2999, updated: 1, failed: 1}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	if len(res.Errors) != 1 || res.Errors[0].Row != 1002 || res.Errors[0].Column != "Email" {
		t.Fatalf("errors %v", res.Errors)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Row != 2501 || !strings.Contains(res.Warnings[0].Message, "duplicate of row 11") {
		t.Fatalf("warnings %v", res.Warnings)
	}
	e.expectRecord(t, "contacts", "email", "p10@example.com", map[string]string{"full_name": "Again 10", "company": e.beta.Id})

	var out bytes.Buffer
	n, err := e.svc.Export(&out, transfer.ExportOptions{Object: "contacts", Fields: []string{"email"}, Sort: "-email", As: e.mgr})
	if err != nil || n != 2999 {
		t.Fatalf("export: %d, %v", n, err)
	}
	rows := readCSV(t, out.Bytes())[1:]
	emails := make([]string, len(rows))
	for i, r := range rows {
		emails[i] = r[0]
	}
	if !slices.IsSortedFunc(emails, func(a, b string) int { return strings.Compare(b, a) }) || len(slices.Compact(slices.Clone(emails))) != 2999 {
		t.Fatal("export across chunks is not in order or repeats records")
	}

	u, err := e.svc.Undo(res.Batch, nil)
	// p10 was created and then updated by the same batch: it is removed like the others.
	if err != nil || u.Removed != 2999 || u.Restored != 0 || len(u.Skipped) != 0 {
		t.Fatalf("undo %+v, %v", u, err)
	}
	if n := e.count(t, "contacts"); n != 0 {
		t.Fatalf("%d contacts left after undo; want 0", n)
	}
}

func TestUndoRecordUpdatedTwiceInOneBatch(t *testing.T) {
	e := newEnv(t)
	e.importBytes(t, "base.csv", []byte("Full name,Email,Job title\nEve,eve@example.com,CTO\n"), transfer.ImportOptions{Object: "contacts", Key: "email"})
	res := e.importBytes(t, "twice.csv", []byte("Full name,Email,Job title,Phone\nEve,eve@example.com,CEO,\nEve,eve@example.com,Chair,+1 555 0100\n"), transfer.ImportOptions{Object: "contacts", Key: "email"})
	if got := countsOf(res); got != (counts{updated: 2}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil || u.Restored != 1 || len(u.Skipped) != 0 {
		t.Fatalf("undo %+v, %v", u, err)
	}
	e.expectRecord(t, "contacts", "email", "eve@example.com", map[string]string{"job_title": "CTO", "phone": ""})
}
