package transfer_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// auditOf returns the changes and actor of the audit entries of a record, oldest first.
func auditOf(t *testing.T, e *env, record string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	if err := audit.Flush(e.app); err != nil { // the entries still in the journal
		t.Fatal(err)
	}
	err := e.app.DB().Select("*").From(audit.Collection).Where(dbx.HashExp{"record": record}).OrderBy("seq ASC").All(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The bulk path (new records written many per statement, workflows off) stores what a Save
// stores and writes the audit entry the audit hook writes: same fields, same changes, and a
// trail that still verifies.
func TestImportBulkPathMatchesSave(t *testing.T) {
	e := newEnv(t)
	// Saved through PocketBase with every hook, as the REST API would.
	saved := schemastest.MustCreate(t, e.app, "companies", map[string]any{
		"name": "Saved Srl", "domain": "saved.example", "notes": `<p onclick="x()">Hi<script>1</script></p>`, "owner": e.alice.Id,
	})
	// The same values through the import (a company has no stage field: bulk path).
	csv := "Name,Domain,Notes,Owner\nImported Srl,imported.example,\"<p onclick=\"\"x()\"\">Hi<script>1</script></p>\",alice@example.com\n"
	res := e.importBytes(t, "c.csv", []byte(csv), transfer.ImportOptions{Object: "companies"})
	if countsOf(res) != (counts{created: 1}) {
		t.Fatalf("counts %+v, errors %v", countsOf(res), res.Errors)
	}
	imp := e.one(t, "companies", "name", "Imported Srl")
	for _, f := range []string{"notes", "owner", "industry", "created", "updated"} {
		if (show(saved, f) == "") != (show(imp, f) == "") {
			t.Errorf("%s: saved %q, imported %q", f, show(saved, f), show(imp, f))
		}
	}
	if show(imp, "notes") != show(saved, "notes") || strings.Contains(show(imp, "notes"), "script") {
		t.Errorf("notes not sanitised like a save: %q vs %q", show(imp, "notes"), show(saved, "notes"))
	}
	se, ie := auditOf(t, e, saved.Id), auditOf(t, e, imp.Id)
	if len(se) != 1 || len(ie) != 1 {
		t.Fatalf("audit entries: saved %d, imported %d; want 1 each", len(se), len(ie))
	}
	var sc, ic map[string]audit.Change
	_ = json.Unmarshal([]byte(se[0].ChangesJSON), &sc)
	_ = json.Unmarshal([]byte(ie[0].ChangesJSON), &ic)
	for _, m := range []map[string]audit.Change{sc, ic} {
		delete(m, "name")
		delete(m, "domain")
	}
	sj, _ := json.Marshal(sc)
	ij, _ := json.Marshal(ic)
	if string(sj) != string(ij) {
		t.Errorf("audit changes differ:\nsave   %s\nimport %s", sj, ij)
	}
	if ie[0].Action != audit.ActionCreate || ie[0].ActorKind != audit.KindImport || ie[0].ActorID != res.Batch {
		t.Errorf("imported entry: action %s, actor %s %s; want create by import %s", ie[0].Action, ie[0].ActorKind, ie[0].ActorID, res.Batch)
	}
	rep, err := audit.Verify(e.app)
	if err != nil || !rep.OK() {
		t.Fatalf("trail does not verify: %v %+v", err, rep)
	}
	// A save after the bulk write chains onto its entries.
	schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "After Srl"})
	if rep, err := audit.Verify(e.app); err != nil || !rep.OK() {
		t.Fatalf("trail after a later save does not verify: %v %+v", err, rep)
	}
}

// Unique fields other than the key are checked against stored and earlier imported rows: a
// clash is that row's error, the other rows are written.
func TestImportBulkUniqueClashIsARowError(t *testing.T) {
	e := newEnv(t)
	csv := "Full name,Email\nAnn,ann@example.com\nDup,ANN@example.com\nAcme clash,x@example.com\nBen,ben@example.com\n"
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Stored", "email": "x@example.com"})
	res := e.importBytes(t, "u.csv", []byte(csv), transfer.ImportOptions{Object: "contacts"})
	if countsOf(res) != (counts{created: 2, failed: 2}) {
		t.Fatalf("counts %+v; errors %v", countsOf(res), res.Errors)
	}
	if res.Errors[0].Row != 3 || res.Errors[0].Column != "Email" || res.Errors[1].Row != 4 {
		t.Errorf("errors %v; want rows 3 and 4, column Email", res.Errors)
	}
	if n := e.count(t, "contacts"); n != 3 {
		t.Errorf("%d contacts; want 3", n)
	}
	if rep, err := audit.Verify(e.app); err != nil || !rep.OK() || rep.Entries < 3 {
		t.Fatalf("trail: %v %+v", err, rep)
	}
}
