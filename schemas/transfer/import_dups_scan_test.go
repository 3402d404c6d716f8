package transfer_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// TestImportDuplicatesByPhoneAndDomain: the rows an import creates are also checked by the
// phone and domain rules (one pass over the records that were there before): a phone written
// otherwise names the existing contact, a company's web address names the company with that
// domain. Records the importer may not view, and records the import itself created, are never
// named; a row matched by email and by phone keeps the better match.
func TestImportDuplicatesByPhoneAndDomain(t *testing.T) {
	e := newEnv(t)
	bob := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Bob Stone", "email": "bob@old.example", "phone": "+39 02 1234 5678", "owner": e.alice.Id})
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Hidden Person", "email": "h@old.example", "phone": "+1 415 555 0100", "owner": e.carol.Id})
	both := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Eve Adams", "email": "eve@old.example", "phone": "+44 20 7946 0018", "owner": e.alice.Id})
	// 1,001 other contacts of alice's, so the pass reads past the first thousand records.
	for i := range 1001 {
		schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": fmt.Sprintf("Filler %d", i), "email": fmt.Sprintf("f%d@old.example", i),
			"phone": fmt.Sprintf("+39 06 %07d", i), "owner": e.alice.Id})
	}
	file := "Full name,Email,Phone\n" +
		"Robert Stone,rs@new.example,00390212345678\n" + // row 2: Bob's phone, written otherwise
		"Someone,s@new.example,+1 (415) 555-0100\n" + // row 3: carol's contact: alice may not see it
		"Twin One,t1@new.example,+49 30 1234567\n" + // row 4 and 5: a new number, twice in the file
		"Twin Two,t2@new.example,+49 30 1234567\n" +
		"Eve Adams,eve+new@old.example,+44 20 7946 0018\n" + // row 6: Eve by email (95 %) and by phone: both reasons
		"Nobody,n@new.example,+81 3 1234 5678\n" // row 7: nothing like it
	res := e.importBytes(t, "p.csv", []byte(file), transfer.ImportOptions{Object: "contacts", As: e.alice})
	if res.Created != 6 || res.DuplicatesChecked != 6 {
		t.Fatalf("created %d, checked %d; want 6 and 6 (errors %v)", res.Created, res.DuplicatesChecked, res.Errors)
	}
	got := map[int]transfer.ImportDuplicate{}
	for _, d := range res.Duplicates {
		got[d.Row] = d
	}
	if len(got) != 2 {
		t.Fatalf("duplicates %+v; want rows 2 and 6 only", res.Duplicates)
	}
	if d := got[2]; d.Existing != bob.Id || len(d.Reasons) != 1 || d.Reasons[0].Match != "phone" || d.Reasons[0].Value != "+390212345678" {
		t.Errorf("row 2: %+v; want Bob by phone +390212345678", d)
	}
	if d := got[6]; d.Existing != both.Id || len(d.Reasons) != 2 || d.Reasons[0].Match != "email" || d.Reasons[1].Match != "phone" || d.Score != 0.99 {
		t.Errorf("row 6: %+v; want Eve by email and phone, 99 %%", d)
	}

	// Companies: a web address names the company whose domain field holds it.
	old := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Globex", "domain": "globex.example"})
	// An import takes the records created from its start on as its own (created >= started, to
	// the millisecond); created in that same millisecond, Globex would be left out.
	time.Sleep(2 * time.Millisecond)
	res = e.importBytes(t, "c.csv", []byte("Name,Website\nGlobex Corporation,https://www.Globex.example/about\nInitech,https://initech.example\n"),
		transfer.ImportOptions{Object: "companies"})
	if len(res.Duplicates) != 1 || res.Duplicates[0].Row != 2 || res.Duplicates[0].Existing != old.Id || res.Duplicates[0].Reasons[0].Match != "domain" {
		t.Fatalf("company duplicates %+v; want row 2 with Globex by domain", res.Duplicates)
	}
}
