package transfer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// TestImportKeysLookedUpPerRows imports 1,001 contacts by email (upsert) in transactions of
// 1,000, their keys looked up 500 rows at a time: a stored contact matched in the second
// look-up of the first transaction (its email in another case) is updated; a row repeating
// the email of a row created in an earlier look-up (and one in the second transaction) finds
// that record; a bad email in the middle of the second look-up fails alone with its row and
// column. The same file again changes nothing; undo removes what the import created and gives
// the stored contact its name back.
func TestImportKeysLookedUpPerRows(t *testing.T) {
	e := newEnv(t)
	stored := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Stored Person", "email": "p600@example.com"})
	var b strings.Builder
	b.WriteString("Full name,Email,Company\n")
	for i := 1; i <= 1001; i++ {
		name, email := fmt.Sprintf("Person %d", i), fmt.Sprintf("p%d@example.com", i)
		switch i {
		case 501: // file row 502, first row of the second look-up: row 3's email
			name, email = "Person 3", "P3@Example.com"
		case 600: // the stored contact's email, in another case
			email = "P600@EXAMPLE.COM"
		case 750: // file row 751
			email = "not-an-email"
		case 1001: // the second transaction: row 999's email
			name, email = "Person 999", "p999@example.com"
		}
		fmt.Fprintf(&b, "%s,%s,Acme S.p.A.\n", name, email)
	}
	file := []byte(b.String())
	opts := transfer.ImportOptions{Object: "contacts", Key: "email", BatchSize: 1000}
	res := e.importBytes(t, "keys.csv", file, opts)
	if got := countsOf(res); got != (counts{created: 997, updated: 1, unchanged: 2, failed: 1}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	if len(res.Errors) != 1 || res.Errors[0].Row != 751 || res.Errors[0].Column != "Email" {
		t.Fatalf("errors %v; want row 751, column Email", res.Errors)
	}
	if len(res.Warnings) != 2 || res.Warnings[0].Row != 502 || !strings.Contains(res.Warnings[0].Message, "duplicate of row 4") ||
		res.Warnings[1].Row != 1002 || !strings.Contains(res.Warnings[1].Message, "duplicate of row 1000") {
		t.Fatalf("warnings %v; want rows 502 (of row 4) and 1002 (of row 1000)", res.Warnings)
	}
	if n := e.count(t, "contacts"); n != 998 {
		t.Fatalf("%d contacts; want 998 (997 created, 1 stored)", n)
	}
	e.expectRecord(t, "contacts", "id", stored.Id, map[string]string{"full_name": "Person 600", "email": "p600@example.com", "company": e.acme.Id})
	e.expectRecord(t, "contacts", "email", "p3@example.com", map[string]string{"full_name": "Person 3"})

	var pages int
	// The test app opens its databases as PocketBase does (SQLite's 1,000); the served app's
	// connections have stmtcache.WALAutocheckpoint, which the import gives back the same way.
	if err := e.app.NonconcurrentDB().NewQuery("PRAGMA wal_autocheckpoint").Row(&pages); err != nil || pages != 1000 {
		t.Fatalf("the writer connection checkpoints every %d pages after the import (%v); want its 1000 back", pages, err)
	}
	again := e.importBytes(t, "keys.csv", file, opts)
	if got := countsOf(again); got != (counts{unchanged: 1000, failed: 1}) {
		t.Fatalf("re-import %+v; errors %v", got, again.Errors)
	}
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil || u.Removed != 997 || u.Restored != 1 || len(u.Skipped) != 0 {
		t.Fatalf("undo %+v, %v", u, err)
	}
	if n := e.count(t, "contacts"); n != 1 {
		t.Fatalf("%d contacts after undo; want the stored one", n)
	}
	e.expectRecord(t, "contacts", "id", stored.Id, map[string]string{"full_name": "Stored Person", "company": ""})
}

// TestImportCommandReportsDuplicates runs `relata import` in process: the created rows that
// may duplicate records that were there before are named, each with its row, the existing
// record and why — only records the importer may view, never the records the import itself
// created (a row repeated in the file) — in the text summary and in --json.
func TestImportCommandReportsDuplicates(t *testing.T) {
	e := newEnv(t)
	ada := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada Lovelace", "email": "ada@x.example", "owner": e.alice.Id})
	grace := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Grace Hopper", "email": "grace@y.example", "owner": e.carol.Id})
	linus := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Linus Torvalds", "email": "lt@old.example", "company": e.acme.Id, "owner": e.alice.Id})
	file := t.TempDir() + "/dups.csv"
	writeFile(t, file, "Full name,Email,Company\n"+
		"Alan Turing,alan@z.example,\n"+ // row 2: nothing like it
		"Ada Lovelace,ADA+import@x.example,\n"+ // row 3: alice's Ada, same email
		"Grace Hopper,grace+import@y.example,\n"+ // row 4: carol's Grace (alice may not see her)
		"Ada L.,ada+again@x.example,\n"+ // row 5: Ada again (not the record row 3 created)
		"Linus Torvald,linus@new.example,Acme S.p.A.\n") // row 6: a name alike at the same company

	run := func(args ...string) (string, string, error) {
		cmd := e.svc.ImportCommand()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(args)
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}
	out, errOut, err := run("contacts", file, "--as", "alice@example.com", "--dry-run")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	want := "3 rows may duplicate existing records (the 5 created rows checked):\n" +
		"  row 3 → contacts/" + ada.Id + " \"Ada Lovelace\" (same email ada@x.example; 95%)\n" +
		"  row 5 → contacts/" + ada.Id + " \"Ada Lovelace\" (same email ada@x.example; 95%)\n" +
		"  row 6 → contacts/" + linus.Id + " \"Linus Torvalds\" (full_name 99% alike; 89%)\n"
	if !strings.Contains(out, want) {
		t.Fatalf("output:\n%s\nwant it to contain:\n%s", out, want)
	}
	if n := e.count(t, "contacts"); n != 3 {
		t.Fatalf("the dry run wrote: %d contacts", n)
	}

	out, errOut, err = run("contacts", file, "--json", "--check-duplicates", "4")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	var res struct {
		Created           int
		DuplicatesChecked int
		Duplicates        []transfer.ImportDuplicate
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Created != 5 || res.DuplicatesChecked != 4 || len(res.Duplicates) != 3 {
		t.Fatalf("%+v; want 5 created, 4 checked, 3 duplicates", res)
	}
	for i, w := range []struct {
		row      int
		existing string
	}{{3, ada.Id}, {4, grace.Id}, {5, ada.Id}} {
		d := res.Duplicates[i]
		if d.Row != w.row || d.Existing != w.existing || d.ID == "" || d.ID == w.existing || len(d.Reasons) != 1 || d.Reasons[0].Match != "email" {
			t.Errorf("duplicate %d: %+v; want row %d of %s by email", i, d, w.row, w.existing)
		}
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestImportKeysMatchOnlyVisibleRecords: what a row's result says depends only on the records
// the importer may view. Carol's deals are invisible to Alice (sales see their own deals), so
// they neither match her rows nor make a key ambiguous — else a dry run with --key amount
// would answer "more than one stored record has amount 3900" about deals she cannot see, an
// oracle on any value. Ambiguity among her own deals is still an error, a manager (who sees
// every deal) still gets it for Carol's, and a hidden contact's unique email still fails the
// row that would create its twin, saying no more than the REST create would.
func TestImportKeysMatchOnlyVisibleRecords(t *testing.T) {
	e := newEnv(t)
	for _, d := range []struct {
		name   string
		amount int
		owner  string
	}{
		{"Carol A", 3900, e.carol.Id}, {"Carol B", 3900, e.carol.Id},
		{"Carol C", 4100, e.carol.Id}, {"Carol D", 4100, e.carol.Id}, {"Alice probe", 4100, e.alice.Id},
		{"Alice 1", 7000, e.alice.Id}, {"Alice 2", 7000, e.alice.Id},
	} {
		schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": d.name, "stage": "lead", "amount": d.amount, "owner": d.owner})
	}
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Carol's lead", "email": "cl@example.com", "owner": e.carol.Id})

	scenarios := []struct {
		name   string
		object string
		key    string
		mode   string
		csv    string
		as     *core.Record
		want   counts
		err    string // the row's error, "" for none
	}{
		{"two hidden deals hold the key: nothing to update", "deals", "amount", transfer.ModeUpdate, "Deal name,Amount\nProbe,3900\n", e.alice,
			counts{failed: 1}, `row 2, column "Amount": no record with amount "3900" to update`},
		{"her own deal matches, whatever hidden deals share its key", "deals", "amount", transfer.ModeUpdate, "Deal name,Amount\nRenamed probe,4100\n", e.alice,
			counts{updated: 1}, ""},
		{"hidden deals do not stop an upsert from creating", "deals", "amount", transfer.ModeUpsert, "Deal name,Amount\nNew,3900\n", e.alice,
			counts{created: 1}, ""},
		{"two of her own deals are ambiguous", "deals", "amount", transfer.ModeUpdate, "Deal name,Amount\nWhich,7000\n", e.alice,
			counts{failed: 1}, `row 2, column "Amount": more than one stored record has amount "7000"`},
		{"a manager sees both of Carol's deals", "deals", "amount", transfer.ModeUpdate, "Deal name,Amount\nProbe,3900\n", e.mgr,
			counts{failed: 1}, `row 2, column "Amount": more than one stored record has amount "3900"`},
		{"a superuser too", "deals", "amount", transfer.ModeUpdate, "Deal name,Amount\nProbe,3900\n", nil,
			counts{failed: 1}, `row 2, column "Amount": more than one stored record has amount "3900"`},
		{"a hidden contact's unique email fails the row as a create would", "contacts", "email", transfer.ModeUpsert, "Full name,Email\nTwin,cl@example.com\n", e.alice,
			counts{failed: 1}, `row 2, column "Email": Value must be unique`},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			res := e.importBytes(t, "probe.csv", []byte(s.csv), transfer.ImportOptions{Object: s.object, Key: s.key, Mode: s.mode, DryRun: true, As: s.as})
			if got := countsOf(res); got != s.want {
				t.Fatalf("%+v; want %+v; errors %v", got, s.want, res.Errors)
			}
			if s.err == "" {
				return
			}
			if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), s.err) {
				t.Fatalf("errors %v; want one with %q", res.Errors, s.err)
			}
			if msg := res.Errors[0].Message; strings.Contains(msg, "Carol") || strings.Contains(msg, e.carol.Id) {
				t.Fatalf("the error names a record the importer may not view: %s", msg)
			}
		})
	}

	// Over the API, as the report had it.
	status, body := e.postImport(t, "/api/relata/import/deals", e.aliceTok, "probe.csv", "Deal name,Amount\nProbe,3900\n",
		map[string]string{"key": "amount", "mode": "update", "dryRun": "true"})
	if status != 200 || !strings.Contains(string(body), `no record with amount \"3900\" to update`) {
		t.Fatalf("API dry run: %d %s", status, body)
	}
}
