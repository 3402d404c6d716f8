package forms_test

import (
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas/forms"
)

// TestDedupeLookupUsesIndex checks that finding the record a submission updates (the form's
// dedupe by email) is a search of the email's unique index, so its cost does not grow with
// the table: 20,000 contacts are written with SQL, the plan is read before and after SQLite
// has statistics (ANALYZE), and a submission with the address in other letter case updates
// the seeded contact instead of creating one.
func TestDedupeLookupUsesIndex(t *testing.T) {
	e := newEnv(t)
	_, err := e.app.DB().NewQuery(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
		INSERT INTO contacts (id, full_name, email, created, updated)
		SELECT printf('seed%011d', i), 'Seeded ' || i, printf('seed%d@example.com', i),
		       strftime('%Y-%m-%d %H:%M:%fZ', 'now'), strftime('%Y-%m-%d %H:%M:%fZ', 'now') FROM n`).Execute()
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		plan, err := forms.DedupeLookupPlan(e.app, "contacts", "email", " Seed777@Example.COM ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "SEARCH contacts USING INDEX idx_contacts_email_unique (email=?)") || strings.Contains(plan, "SCAN") {
			t.Fatalf("%s: the dedupe lookup does not search the email index:\n%s", when, plan)
		}
	}
	check("without statistics")
	if _, err := e.app.DB().NewQuery("ANALYZE").Execute(); err != nil {
		t.Fatal(err)
	}
	check("after ANALYZE")

	tok := e.token(t, "contact")
	e.clock.Add(4 * time.Second) // the form's minimum fill time
	code, res, _ := e.post(t, "contact", map[string]any{
		"full_name": "Seeded 777", "email": "SEED777@example.com", "message": "Found by the index", "_consent": true, "_token": tok,
	})
	if code != 200 || !res.OK {
		t.Fatalf("submission = %d %+v", code, res)
	}
	if n := e.count(t, "contacts", ""); n != 20000 {
		t.Errorf("contacts = %d after a submission of a seeded address; want 20000 (updated, not created)", n)
	}
	rec, err := e.app.FindRecordById("contacts", "seed00000000777")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.GetString("message"); got != "Found by the index" {
		t.Errorf("seeded contact's message = %q; want the submitted one", got)
	}
}
