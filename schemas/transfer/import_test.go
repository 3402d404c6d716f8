package transfer_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// show renders a stored value for comparison: lists joined with "|", dates as stored.
func show(r *core.Record, field string) string {
	switch v := r.Get(field).(type) {
	case []string:
		return strings.Join(v, "|")
	case float64, bool:
		return fmt.Sprint(v)
	}
	if raw := fmt.Sprint(r.Get(field)); raw == "null" {
		return ""
	}
	if s := r.GetStringSlice(field); len(s) > 1 || strings.HasPrefix(fmt.Sprint(r.Get(field)), "[") {
		return strings.Join(s, "|")
	}
	return r.GetString(field)
}

// expectRecord checks every listed field of the record whose key field has the key value.
func (e *env) expectRecord(t *testing.T, collection, key string, value any, want map[string]string) {
	t.Helper()
	r := e.one(t, collection, key, value)
	for f, w := range want {
		if got := show(r, f); got != w {
			t.Errorf("%s %v: %s = %q; want %q", collection, value, f, got, w)
		}
	}
}

func TestImportFixtures(t *testing.T) {
	e := newEnv(t)
	acme, beta, alice, bob := e.acme.Id, e.beta.Id, e.alice.Id, e.bob.Id

	res := e.importFile(t, "excel_csv_utf8.csv", transfer.ImportOptions{Object: "deals"})
	if got := countsOf(res); got != (counts{created: 3}) {
		t.Fatalf("excel utf-8: %+v; errors: %v", got, res.Errors)
	}
	e.expectRecord(t, "deals", "name", "Rinnovo licenze 2025", map[string]string{"stage": "proposal", "amount": "1234.56", "amount_currency": "EUR",
		"expected_close": "2025-03-05 00:00:00.000Z", "company": acme, "owner": alice, "description": "Prima riga\nseconda riga; con punto e virgola"})
	e.expectRecord(t, "deals", "name", "Fornitura città", map[string]string{"stage": "negotiation", "amount": "12000", "amount_currency": "EUR",
		"expected_close": "2025-02-28 00:00:00.000Z", "company": beta, "owner": bob, "description": `Più "urgente"`})
	e.expectRecord(t, "deals", "name", "Consulenza", map[string]string{"stage": "won", "amount": "350", "amount_currency": "EUR",
		"expected_close": "2024-12-01 00:00:00.000Z", "company": acme, "owner": alice, "description": ""})

	res = e.importFile(t, "excel_windows1252.csv", transfer.ImportOptions{Object: "deals"})
	if got := countsOf(res); got != (counts{created: 2}) {
		t.Fatalf("excel windows-1252: %+v; errors: %v", got, res.Errors)
	}
	e.expectRecord(t, "deals", "name", "Café expansion", map[string]string{"stage": "qualified", "amount": "1250.5", "amount_currency": "USD",
		"expected_close": "2025-03-14 00:00:00.000Z", "company": acme, "owner": alice, "description": "Crème brûlée – €5 menu"})
	e.expectRecord(t, "deals", "name", "Naïve pilot", map[string]string{"stage": "lead", "amount": "2000", "amount_currency": "EUR",
		"expected_close": "2025-12-01 00:00:00.000Z", "company": beta, "owner": bob, "description": ""})

	res = e.importFile(t, "google_sheets.csv", transfer.ImportOptions{Object: "contacts"})
	if got := countsOf(res); got != (counts{created: 3}) {
		t.Fatalf("google sheets: %+v; errors: %v", got, res.Errors)
	}
	e.expectRecord(t, "contacts", "email", "zoe@example.com", map[string]string{"full_name": "Zoë Ågren", "phone": "+46 8 123 45 67",
		"company": acme, "tags": "vip|nordics", "do_not_email": "true", "lifecycle_stage": "customer"})
	e.expectRecord(t, "contacts", "email", "sean@example.ie", map[string]string{"full_name": "O'Brien, Seán", "phone": "",
		"company": beta, "tags": "trade-show|2025", "do_not_email": "false", "lifecycle_stage": "lead"})
	e.expectRecord(t, "contacts", "email", "li.wei@example.cn", map[string]string{"full_name": "Li Wei", "phone": "+86 10 1234 5678",
		"company": "", "tags": "", "do_not_email": "false", "lifecycle_stage": "sql"})

	res = e.importFile(t, "excel_unicode.txt", transfer.ImportOptions{Object: "contacts"})
	if got := countsOf(res); got != (counts{created: 2}) {
		t.Fatalf("unicode text: %+v; errors: %v", got, res.Errors)
	}
	e.expectRecord(t, "contacts", "email", "jose@example.es", map[string]string{"full_name": "José Núñez", "do_not_email": "true"})
	e.expectRecord(t, "contacts", "email", "taro@example.jp", map[string]string{"full_name": "東京 太郎", "do_not_email": "false"})

	res = e.importFile(t, "workbook.xlsx", transfer.ImportOptions{Object: "deals"})
	if got := countsOf(res); got != (counts{created: 2}) {
		t.Fatalf("xlsx: %+v; errors: %v", got, res.Errors)
	}
	e.expectRecord(t, "deals", "name", "Workbook deal one", map[string]string{"stage": "lead", "amount": "1500.5",
		"expected_close": "2025-03-15 00:00:00.000Z", "company": acme})
	e.expectRecord(t, "deals", "name", "Workbook deal two", map[string]string{"stage": "won", "amount": "20000",
		"expected_close": "2025-01-01 00:00:00.000Z", "company": beta})

	res = e.importFile(t, "workbook.xlsx", transfer.ImportOptions{Object: "companies", Read: transfer.ReadOptions{Sheet: "Companies"}})
	if got := countsOf(res); got != (counts{created: 1}) {
		t.Fatalf("xlsx second sheet: %+v; errors: %v", got, res.Errors)
	}
	e.expectRecord(t, "companies", "name", "Gamma GmbH", map[string]string{"domain": "gamma.example", "annual_revenue": "2.5e+06",
		"annual_revenue_currency": "EUR", "tags": "dach|prospect"})
}

func TestImportCRMExport40Columns(t *testing.T) {
	e := newEnv(t)
	res := e.importFile(t, "crm_contacts_40.csv", transfer.ImportOptions{Object: "contacts", Key: "email"})
	if got := countsOf(res); got != (counts{created: 3}) {
		t.Fatalf("%+v; errors: %v", got, res.Errors)
	}
	wantMap := map[string]string{"Full Name": "full_name", "Email": "email", "Phone Number": "phone", "Job Title": "job_title",
		"Company Name": "company", "Lifecycle Stage": "lifecycle_stage", "Contact owner": "owner", "Tags": "tags"}
	for col, f := range wantMap {
		if res.Mapping[col] != f {
			t.Errorf("column %q mapped to %q; want %q (mapping %v)", col, res.Mapping[col], f, res.Mapping)
		}
	}
	if len(res.Mapping) != len(wantMap) {
		t.Errorf("mapping %v; want exactly %v", res.Mapping, wantMap)
	}
	if len(res.Ignored) != 40-len(wantMap) {
		t.Errorf("%d ignored columns; want %d: %v", len(res.Ignored), 40-len(wantMap), res.Ignored)
	}
	e.expectRecord(t, "contacts", "email", "ada.rossi@example.it", map[string]string{"full_name": "Ada Rossi", "phone": "+39 02 1234 5678",
		"job_title": "CTO", "company": e.acme.Id, "lifecycle_stage": "customer", "owner": e.alice.Id, "tags": "vip|italy"})
	e.expectRecord(t, "contacts", "email", "ben@beta.example", map[string]string{"full_name": "Ben Okafor", "phone": "",
		"job_title": "Buyer", "company": e.beta.Id, "lifecycle_stage": "lead", "owner": e.bob.Id, "tags": ""})
	e.expectRecord(t, "contacts", "email", "chloe@example.fr", map[string]string{"full_name": "Chloé Martin", "phone": "+33 1 23 45 67 89",
		"job_title": "", "company": "", "lifecycle_stage": "subscriber", "owner": "", "tags": "newsletter"})

	// Re-importing the same file changes nothing.
	again := e.importFile(t, "crm_contacts_40.csv", transfer.ImportOptions{Object: "contacts", Key: "email"})
	if got := countsOf(again); got != (counts{unchanged: 3}) {
		t.Fatalf("re-import: %+v; errors: %v", got, again.Errors)
	}
}

func TestImportRowErrorsNameRowColumnReason(t *testing.T) {
	e := newEnv(t)
	csv := "Full name;Email;Do not email;Company;Owner;Lifecycle stage\n" +
		"Good One;good@example.com;no;Acme S.p.A.;alice@example.com;lead\n" +
		"Bad Mail;not-an-email;forse;Nowhere Inc;nobody@example.com;vip\n" +
		";empty@example.com;;;;\n" +
		"Good Two;good2@example.com;x;acme.example;Bob Berg;Customer\n"
	res := e.importBytes(t, "people.csv", []byte(csv), transfer.ImportOptions{Object: "contacts"})
	if got := countsOf(res); got != (counts{created: 2, failed: 2}) {
		t.Fatalf("%+v; errors: %v", got, res.Errors)
	}
	want := []string{
		`people.csv: row 3, column "Email": "not-an-email" is not a valid email address`,
		`people.csv: row 3, column "Do not email": "forse" is not yes or no (yes/no, sì/no, true/false, 1/0, x)`,
		`people.csv: row 3, column "Company": no companies record named "Nowhere Inc" (by name, domain)`,
		`people.csv: row 3, column "Owner": no user with email or name "nobody@example.com"`,
		`people.csv: row 3, column "Lifecycle stage": "vip" is not an option (subscriber, lead, mql, sql, opportunity, customer, evangelist, disqualified, other)`,
		`people.csv: row 4, column "Full name": cannot be blank`,
	}
	var got []string
	for _, er := range res.Errors {
		got = append(got, er.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e.count(t, "contacts") != 2 {
		t.Errorf("%d contacts; want 2 (failed rows leave nothing)", e.count(t, "contacts"))
	}
	e.expectRecord(t, "contacts", "email", "good2@example.com", map[string]string{"company": e.acme.Id, "owner": e.bob.Id, "do_not_email": "true", "lifecycle_stage": "customer"})
	if len(res.FailedRows) != 2 || res.FailedRows[0].Row != 3 || res.FailedRows[1].Cells[1] != "empty@example.com" {
		t.Errorf("failed rows = %+v", res.FailedRows)
	}
}

func TestImportModesKeysAndDuplicates(t *testing.T) {
	e := newEnv(t)
	base := "Full name,Email,Job title\nAda,ada@example.com,CTO\nBen,ben@example.com,Buyer\n"
	e.importBytes(t, "base.csv", []byte(base), transfer.ImportOptions{Object: "contacts", Key: "email"})

	scenarios := []struct {
		name string
		csv  string
		mode string
		want counts
		errs []string
	}{
		{"create refuses existing keys and in-file duplicates", "Full name,Email\nAda,ADA@example.com\nCyd,cyd@example.com\nCyd 2,cyd@example.com\n", transfer.ModeCreate,
			counts{created: 1, failed: 2}, []string{`row 2, column "Email": a record with email "ada@example.com" already exists`, `row 4, column "Email": duplicate of row 3 (same email "cyd@example.com")`}},
		{"update refuses unknown keys", "Full name,Email,Job title\nAda,ada@example.com,CEO\nZed,zed@example.com,\n", transfer.ModeUpdate,
			counts{updated: 1, failed: 1}, []string{`row 3, column "Email": no record with email "zed@example.com" to update`}},
		{"upsert merges in-file duplicates", "Full name,Email,Job title\nBen,ben@example.com,Buyer\nDee,dee@example.com,VP\nDee,dee@example.com,SVP\n", transfer.ModeUpsert,
			counts{unchanged: 1, created: 1, updated: 1}, nil},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			res := e.importBytes(t, "f.csv", []byte(s.csv), transfer.ImportOptions{Object: "contacts", Key: "email", Mode: s.mode})
			if got := countsOf(res); got != s.want {
				t.Fatalf("%+v; want %+v; errors: %v", got, s.want, res.Errors)
			}
			for i, w := range s.errs {
				if i >= len(res.Errors) || !strings.Contains(res.Errors[i].Error(), w) {
					t.Errorf("errors %v; want %q at %d", res.Errors, w, i)
				}
			}
		})
	}
	e.expectRecord(t, "contacts", "email", "ada@example.com", map[string]string{"job_title": "CEO"})
	e.expectRecord(t, "contacts", "email", "dee@example.com", map[string]string{"job_title": "SVP"})
}

func TestImportDryRunReportsExactlyAndWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.importBytes(t, "base.csv", []byte("Full name,Email\nAda,ada@example.com\n"), transfer.ImportOptions{Object: "contacts", Key: "email"})
	csv := "Full name,Email,Company\nAda,ada@example.com,\nAda Lovelace,ada@example.com,\nNew,new@example.com,New Co\nBad,bad,\n"
	opts := transfer.ImportOptions{Object: "contacts", Key: "email", CreateMissing: true}
	before := [3]int{e.count(t, "contacts"), e.count(t, "companies"), e.count(t, transfer.BatchesCollection)}
	dry := opts
	dry.DryRun = true
	d := e.importBytes(t, "f.csv", []byte(csv), dry)
	after := [3]int{e.count(t, "contacts"), e.count(t, "companies"), e.count(t, transfer.BatchesCollection)}
	if before != after {
		t.Fatalf("dry run wrote: counts %v -> %v", before, after)
	}
	real := e.importBytes(t, "f.csv", []byte(csv), opts)
	if countsOf(d) != countsOf(real) || d.Related != real.Related || len(d.Errors) != len(real.Errors) {
		t.Fatalf("dry run %+v (related %d) != real %+v (related %d)", countsOf(d), d.Related, countsOf(real), real.Related)
	}
	if want := (counts{unchanged: 1, updated: 1, created: 1, failed: 1}); countsOf(real) != want || real.Related != 1 {
		t.Fatalf("%+v related %d; want %+v related 1", countsOf(real), real.Related, want)
	}
}

// TestImportRelatedOfAFailedRow: a row creates its missing company, then fails (its email is
// taken); its savepoint takes the company back, and so must the import: the next row naming
// the company creates it again instead of linking the id of one that is no longer there,
// and the summary counts one related record.
func TestImportRelatedOfAFailedRow(t *testing.T) {
	e := newEnv(t)
	e.importBytes(t, "base.csv", []byte("Full name,Email\nAda,ada@example.com\n"), transfer.ImportOptions{Object: "contacts"})
	res := e.importBytes(t, "f.csv", []byte("Full name,Email,Company\nAda again,ada@example.com,Phantom Co\nBen,ben@example.com,Phantom Co\n"),
		transfer.ImportOptions{Object: "contacts", CreateMissing: true, Workflows: true}) // rows saved one by one, each in its savepoint
	if got := countsOf(res); got != (counts{created: 1, failed: 1}) || res.Related != 1 {
		t.Fatalf("%+v related %d; errors %v", got, res.Related, res.Errors)
	}
	ben := e.one(t, "contacts", "email", "ben@example.com")
	co, err := e.app.FindRecordById("companies", ben.GetString("company"))
	if err != nil || co.GetString("name") != "Phantom Co" {
		t.Fatalf("Ben's company %q: %v", ben.GetString("company"), err)
	}
	if n := e.count(t, "companies"); n != 3 { // Acme, Beta and Phantom Co once
		t.Errorf("%d companies; want 3", n)
	}
}

func TestImportUndo(t *testing.T) {
	e := newEnv(t)
	e.importBytes(t, "base.csv", []byte("Full name,Email,Job title\nAda,ada@example.com,CTO\nBen,ben@example.com,Buyer\n"), transfer.ImportOptions{Object: "contacts", Key: "email"})
	res := e.importBytes(t, "change.csv", []byte("Full name,Email,Job title,Company\nAda,ada@example.com,CEO,\nBen,ben@example.com,Head buyer,\nCyd,cyd@example.com,,Brand New Ltd\nDee,dee@example.com,,\n"),
		transfer.ImportOptions{Object: "contacts", Key: "email", CreateMissing: true})
	if got := countsOf(res); got != (counts{updated: 2, created: 2}) || res.Related != 1 {
		t.Fatalf("%+v related %d; errors %v", got, res.Related, res.Errors)
	}
	// Someone edits Ben and Dee after the import: undo must leave them alone.
	ben := e.one(t, "contacts", "email", "ben@example.com")
	ben.Set("phone", "+1 555 0100")
	dee := e.one(t, "contacts", "email", "dee@example.com")
	dee.Set("job_title", "Founder")
	for _, r := range []*core.Record{ben, dee} {
		if err := e.app.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Removed != 2 || u.Restored != 1 || len(u.Skipped) != 2 {
		t.Fatalf("undo = %+v; want 2 removed (Cyd, Brand New Ltd), 1 restored (Ada), 2 left alone", u)
	}
	e.expectRecord(t, "contacts", "email", "ada@example.com", map[string]string{"job_title": "CTO"})
	e.expectRecord(t, "contacts", "email", "ben@example.com", map[string]string{"job_title": "Head buyer", "phone": "+1 555 0100"})
	e.expectRecord(t, "contacts", "email", "dee@example.com", map[string]string{"job_title": "Founder"})
	if _, err := e.app.FindFirstRecordByData("contacts", "email", "cyd@example.com"); err == nil {
		t.Error("Cyd, created by the import, is still there")
	}
	if _, err := e.app.FindFirstRecordByData("companies", "name", "Brand New Ltd"); err == nil {
		t.Error("Brand New Ltd, created by the import, is still there")
	}
	b, err := e.app.FindRecordById(transfer.BatchesCollection, res.Batch)
	if err != nil || b.GetString("status") != "undone" || b.GetString("file") != "change.csv" || b.GetString("actor") != "superuser" {
		t.Fatalf("batch record %v: %v", b, err)
	}
	if _, err := e.svc.Undo(res.Batch, nil); err == nil || !strings.Contains(err.Error(), "already undone") {
		t.Errorf("second undo: %v", err)
	}
}

func TestImportAsSalesUser(t *testing.T) {
	e := newEnv(t)
	carolsDeal := e.importBytes(t, "seed.csv", []byte("Name,Stage,Owner\nCarol deal,lead,carol@example.com\n"), transfer.ImportOptions{Object: "deals", Key: "name"})
	if carolsDeal.Created != 1 {
		t.Fatalf("seed: %v", carolsDeal.Errors)
	}
	csv := "Name,Stage,Owner,Amount\n" +
		"Alice own,lead,alice@example.com,10\n" +
		"No owner given,lead,,20\n" +
		"For Bob,lead,bob@example.com,30\n" +
		"For Bob by name,lead,Bob Berg,35\n" +
		"Carol deal,won,,40\n"
	res := e.importBytes(t, "deals.csv", []byte(csv), transfer.ImportOptions{Object: "deals", Key: "name", As: e.alice})
	// Carol's deal is invisible to Alice: it does not exist for her (as in the REST API), so
	// her row creates a deal of her own and Carol's is untouched. Bob's email is hidden from
	// her (as through the REST API): it names nobody, as a made-up address would — else the
	// import would tell her whose address it is; his name names him, and her rules refuse
	// a deal for him.
	if got := countsOf(res); got != (counts{created: 3, failed: 2}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	if len(res.Errors) != 2 || !strings.Contains(res.Errors[0].Error(), `row 4, column "Owner": no user with email or name "bob@example.com"`) ||
		!strings.Contains(res.Errors[1].Error(), `row 5, column "Owner": you may not create this record`) {
		t.Errorf("errors: %v", res.Errors)
	}
	e.expectRecord(t, "deals", "name", "No owner given", map[string]string{"owner": e.alice.Id})
	e.expectRecord(t, "deals", "id", carolsID(t, e), map[string]string{"stage": "lead", "owner": e.carol.Id})

	// A manager may hand deals to anyone; the name now matches two deals, which is an error.
	res = e.importBytes(t, "deals.csv", []byte(csv), transfer.ImportOptions{Object: "deals", Key: "name", As: e.mgr})
	// Empty cells never clear a field: "No owner given" stays as it is.
	if got := countsOf(res); got != (counts{created: 2, unchanged: 2, failed: 1}) {
		t.Fatalf("manager: %+v; errors %v", got, res.Errors)
	}
	e.expectRecord(t, "deals", "name", "For Bob", map[string]string{"owner": e.bob.Id}) // a manager names owners by email
	if !strings.Contains(res.Errors[0].Error(), `row 6, column "Name": more than one stored record has name "Carol deal"`) {
		t.Errorf("errors: %v", res.Errors)
	}
	b := e.one(t, transfer.BatchesCollection, "id", res.Batch)
	if b.GetString("user") != e.mgr.Id || b.GetString("actor") != "mgr@example.com" {
		t.Errorf("batch user %q actor %q", b.GetString("user"), b.GetString("actor"))
	}

	// A public email names its user for everyone.
	e.carol.Set("emailVisibility", true)
	if err := e.app.Save(e.carol); err != nil {
		t.Fatal(err)
	}
	res = e.importBytes(t, "carol.csv", []byte("Name,Stage,Owner\nFor Carol,lead,carol@example.com\n"), transfer.ImportOptions{Object: "deals", As: e.alice})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), `column "Owner": you may not create this record`) {
		t.Errorf("a public email: %v", res.Errors)
	}
}

func TestImportWorkflowsTriggerOnlyWhenAsked(t *testing.T) {
	e := newEnv(t)
	def := `{"name": "tag-new-contacts", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
		"actions": [{"type": "update_record", "values": {"job_title": "welcomed"}}]}`
	d, err := parseWorkflow(def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Save(e.app, d); err != nil {
		t.Fatal(err)
	}
	runs := func() int { return e.count(t, "workflow_runs") }
	csv := "Full name,Email\nA,a@example.com\nB,b@example.com\nC,c@example.com\n"
	e.importBytes(t, "quiet.csv", []byte(csv), transfer.ImportOptions{Object: "contacts", Key: "email"})
	if n := runs(); n != 0 {
		t.Fatalf("import without workflows queued %d runs", n)
	}
	res := e.importBytes(t, "loud.csv", []byte(strings.ReplaceAll(csv, "@example", "@loud.example")), transfer.ImportOptions{Object: "contacts", Key: "email", Workflows: true})
	if res.Created != 3 {
		t.Fatalf("%+v", countsOf(res))
	}
	if n := runs(); n != 3 {
		t.Fatalf("import with workflows queued %d runs; want exactly 3 (one per row)", n)
	}
	// Re-importing: unchanged rows are not saved, so nothing triggers again.
	e.importBytes(t, "loud.csv", []byte(strings.ReplaceAll(csv, "@example", "@loud.example")), transfer.ImportOptions{Object: "contacts", Key: "email", Workflows: true})
	if n := runs(); n != 3 {
		t.Fatalf("re-import queued runs: %d; want 3", n)
	}
}

func TestImportMappingErrors(t *testing.T) {
	e := newEnv(t)
	csv := []byte("Full name,Email\nA,a@example.com\n")
	scenarios := []struct {
		opts transfer.ImportOptions
		want string
	}{
		{transfer.ImportOptions{Object: "nope"}, `no object "nope"`},
		{transfer.ImportOptions{Object: "contacts", Map: map[string]string{"Mail": "email"}}, `--map names column "Mail", which is not in the file`},
		{transfer.ImportOptions{Object: "contacts", Map: map[string]string{"Email": "e_mail"}}, `contacts has no field "e_mail"`},
		{transfer.ImportOptions{Object: "contacts", Key: "phone"}, "no column maps to the key field phone"},
		{transfer.ImportOptions{Object: "contacts", Mode: transfer.ModeUpdate}, "needs a key field"},
		{transfer.ImportOptions{Object: "contacts", DateOrder: "ymd"}, `unknown date order "ymd"`},
	}
	for _, s := range scenarios {
		s.opts.File = "f.csv"
		_, err := e.svc.Import(strings.NewReader(string(csv)), s.opts)
		if err == nil || !strings.Contains(err.Error(), s.want) {
			t.Errorf("%+v: err = %v; want %q", s.opts, err, s.want)
		}
	}
}

var _ = os.ReadFile

func carolsID(t *testing.T, e *env) string {
	t.Helper()
	recs, err := e.app.FindAllRecords("deals")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.GetString("name") == "Carol deal" && r.GetString("owner") == e.carol.Id {
			return r.Id
		}
	}
	t.Fatal("Carol's deal is gone")
	return ""
}

// TestImportStagesFollowTheRowsPipeline: a deal's stage is one of the pipeline the deal
// follows (its pipeline field), for imports as for the API. A stage cell — its name or label —
// is converted against the pipeline the row sets, whatever the column order; a row that sets
// none updates a stored deal in the deal's own pipeline, and creates a deal in the default
// one. A stage of another pipeline fails its row, naming the pipeline and its stages.
func TestImportStagesFollowTheRowsPipeline(t *testing.T) {
	e := newEnv(t)
	for _, d := range []map[string]any{
		{"name": "Stored renewal", "pipeline": "renewals", "stage": "renewal_due"},
		{"name": "Stored sale", "stage": "lead"},
		{"name": "Other sale", "stage": "lead"},
	} {
		schemastest.MustCreate(t, e.app, "deals", d)
	}
	const renewalStages = "(renewal_due, renewal_talks, renewed, churned)"
	const salesStages = "(lead, qualified, proposal, negotiation, won, lost)"
	scenarios := []struct {
		name  string
		csv   string
		key   string
		want  counts
		err   string            // the row's error, "" for none
		deal  string            // the deal to check afterwards
		after map[string]string // its stored fields
	}{
		{"a renewals stage by name", "Deal name,Pipeline,Stage,Amount\nRenewal X,renewals,renewal_due,100\n", "",
			counts{created: 1}, "", "Renewal X", map[string]string{"pipeline": "renewals", "stage": "renewal_due"}},
		{"a renewals stage by label", "Deal name,Pipeline,Stage,Amount\nRenewal Y,renewals,Renewal due,100\n", "",
			counts{created: 1}, "", "Renewal Y", map[string]string{"pipeline": "renewals", "stage": "renewal_due"}},
		{"the pipeline after the stage, both by label", "Stage,Amount,Deal name,Pipeline\nIn talks,5,Renewal Z,Renewals\n", "",
			counts{created: 1}, "", "Renewal Z", map[string]string{"pipeline": "renewals", "stage": "renewal_talks"}},
		{"a sales stage in renewals", "Deal name,Pipeline,Stage\nBad renewal,renewals,won\n", "",
			counts{failed: 1}, `row 2, column "Stage": "won" is not a stage of pipeline renewals ` + renewalStages, "", nil},
		{"a renewals stage in a new deal of the default pipeline", "Deal name,Pipeline,Stage\nBad sale,,renewed\n", "",
			counts{failed: 1}, `row 2, column "Stage": "renewed" is not a stage of pipeline sales ` + salesStages, "", nil},
		{"an update without a pipeline column keeps the stored deal's", "Deal name,Stage\nStored renewal,Renewed\n", "name",
			counts{updated: 1}, "", "Stored renewal", map[string]string{"pipeline": "renewals", "stage": "renewed"}},
		{"an update moving a deal to renewals", "Deal name,Stage,Pipeline\nStored sale,renewal_talks,renewals\n", "name",
			counts{updated: 1}, "", "Stored sale", map[string]string{"pipeline": "renewals", "stage": "renewal_talks"}},
		{"an update of a renewals deal with a sales stage", "Deal name,Stage\nRenewal X,won\n", "name",
			counts{failed: 1}, `row 2, column "Stage": "won" is not a stage of pipeline renewals ` + renewalStages, "", nil},
		{"an update of a sales deal with a renewals stage", "Deal name,Stage\nOther sale,Renewed\n", "name",
			counts{failed: 1}, `row 2, column "Stage": "Renewed" is not a stage of pipeline sales ` + salesStages, "", nil},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			res := e.importBytes(t, "deals.csv", []byte(s.csv), transfer.ImportOptions{Object: "deals", Key: s.key})
			if got := countsOf(res); got != s.want {
				t.Fatalf("%+v; want %+v; errors %v", got, s.want, res.Errors)
			}
			if s.err != "" && (len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), s.err)) {
				t.Fatalf("errors %v; want one with %q", res.Errors, s.err)
			}
			if s.deal != "" {
				e.expectRecord(t, "deals", "name", s.deal, s.after)
			}
		})
	}
}

// TestImportRenewalsRoundTrip exports deals of both pipelines and imports the file back: as a
// dry run of new deals (the export's rows as they are), and by name, which finds every deal
// unchanged.
func TestImportRenewalsRoundTrip(t *testing.T) {
	e := newEnv(t)
	for _, d := range []map[string]any{
		{"name": "Renewed one", "pipeline": "renewals", "stage": "renewed", "amount": 1000},
		{"name": "Churned one", "pipeline": "renewals", "stage": "churned"},
		{"name": "Due one", "pipeline": "renewals", "stage": "renewal_due"},
		{"name": "Won sale", "stage": "won", "amount": 500},
	} {
		schemastest.MustCreate(t, e.app, "deals", d)
	}
	var buf bytes.Buffer
	if n, err := e.svc.Export(&buf, transfer.ExportOptions{Object: "deals", Sort: "name"}); err != nil || n != 4 {
		t.Fatalf("export: %d, %v", n, err)
	}
	dry := e.importBytes(t, "deals.csv", buf.Bytes(), transfer.ImportOptions{Object: "deals", DryRun: true, DuplicateCheck: -1})
	if got := countsOf(dry); got != (counts{created: 4}) {
		t.Fatalf("dry run of the export: %+v; errors %v", got, dry.Errors)
	}
	again := e.importBytes(t, "deals.csv", buf.Bytes(), transfer.ImportOptions{Object: "deals", Key: "name"})
	if got := countsOf(again); got != (counts{unchanged: 4}) {
		t.Fatalf("re-import of the export by name: %+v; errors %v", got, again.Errors)
	}
}
