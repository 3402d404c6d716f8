package transfer_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/schemastest"
)

// setRaw stores value in a record's column by SQL, as data written before validation
// existed (or by another tool) may hold it.
func (e *env) setRaw(t *testing.T, table, id, column, value string) {
	t.Helper()
	if _, err := e.app.DB().Update(table, dbx.Params{column: value}, dbx.HashExp{"id": id}).Execute(); err != nil {
		t.Fatal(err)
	}
}

// TestLookupIndexedMatchesReadAll resolves relation cells through the lookup-key indexes and
// through the lookup imports used before (every record's keys read at once, compared in
// Go) on the same data: case and space variants, letters other than ASCII (which SQLite's
// lower() does not fold), domains with www, a scheme or a path, ids, and names of two
// records. Both must give the same record or the same kind of error, and the expected one.
func TestLookupIndexedMatchesReadAll(t *testing.T) {
	e := newEnv(t)
	mk := func(name, domain string) string {
		body := map[string]any{"name": name}
		if domain != "" {
			body["domain"] = domain
		}
		return schemastest.MustCreate(t, e.app, "companies", body).Id
	}
	ecole := mk("ÉCOLE Nationale", "")
	muller := mk("Müller GmbH", "")
	e.setRaw(t, "companies", muller, "name", "Müller \t  GmbH ")
	kelvin := mk("Kelvin Corp", "")
	e.setRaw(t, "companies", kelvin, "name", "\u212Aelvin Corp") // KELVIN SIGN: Go lowers it to k
	istanbul := mk("Istanbul Ltd", "")
	e.setRaw(t, "companies", istanbul, "name", "İSTANBUL Ltd")
	mk("Twin", "")
	twin2 := mk("Twin B", "")
	e.setRaw(t, "companies", twin2, "name", "twin\u00a0")
	web := mk("Web Co", "")
	e.setRaw(t, "companies", web, "domain", "https://www.Web.example/about")
	www := mk("WWW Co", "www.www.example")
	trail := mk("Trail", "")
	e.setRaw(t, "companies", trail, "domain", "Trail.Example.")
	delta := mk("ΔΈΛΤΑ", "")
	long := mk("ΑΛΦΑΒΗΤΟΣ ΜΕΓΑΛΟΣ", "")
	mk("gamma.example", "")
	gamma := mk("Gamma", "gamma.example")
	spaced := mk("Nbsp Space", "")
	e.setRaw(t, "companies", spaced, "name", "\u00a0Nbsp\u2003 Space\u3000")

	cases := []struct {
		cell, want string // want: an id, "ambiguous" or "none"
	}{
		{"acme s.p.a.", e.acme.Id}, {"ACME  S.P.A.", e.acme.Id}, {" Acme\tS.p.A. ", e.acme.Id},
		{"acme.example", e.acme.Id}, {"https://www.acme.example/about", e.acme.Id}, {"www.acme.example", e.acme.Id},
		{"ACME.EXAMPLE", e.acme.Id}, {"acme.example.", e.acme.Id}, {e.acme.Id, e.acme.Id}, {strings.ToUpper(e.acme.Id), e.acme.Id},
		{"beta srl", e.beta.Id}, {"Beta", "none"},
		{"école nationale", ecole}, {"ÉCOLE NATIONALE", ecole}, {"École  Nationale", ecole}, {"ecole nationale", "none"},
		{"müller gmbh", muller}, {"MÜLLER GMBH", muller},
		{"kelvin corp", kelvin}, {"KELVIN corp", kelvin},
		{"istanbul ltd", istanbul}, {"İstanbul LTD", istanbul},
		{"twin", "ambiguous"}, {"TWIN ", "ambiguous"},
		{"web.example", web}, {"https://web.example", web}, {"WEB.EXAMPLE/x", web},
		{"www.example", www}, {"www.www.example", www}, {"https://www.www.example/", www},
		{"trail.example", trail}, {"trail", trail},
		{"δέλτα", delta}, {"Δέλτα", delta},
		{"αλφαβητοσ μεγαλοσ", long}, {"αλφαβητος μεγαλος", "none"}, // Go lowers Σ to σ, never to the final ς
		{"gamma.example", "ambiguous"}, {"gamma", gamma}, // a name and another's domain
		{"nbsp space", spaced}, {"NBSP SPACE", spaced},
		{"nobody", "none"}, {"", "none"}, {"%", "none"}, {"_cme s.p.a.", "none"},
	}
	p, err := e.svc.NewLookupProbe("companies", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		got, err := p.Find(c.cell)
		before, errBefore := p.FindAsBefore(c.cell)
		if got != before || (err == nil) != (errBefore == nil) ||
			(err != nil && strings.Contains(err.Error(), "more than one") != strings.Contains(errBefore.Error(), "more than one")) {
			t.Errorf("%q: indexed %q (%v), read-all %q (%v)", c.cell, got, err, before, errBefore)
		}
		switch c.want {
		case "ambiguous":
			if err == nil || !strings.Contains(err.Error(), "names more than one companies record") {
				t.Errorf("%q: want an ambiguous reference, got %q (%v)", c.cell, got, err)
			}
		case "none":
			if err == nil || !strings.Contains(err.Error(), "no companies record named") {
				t.Errorf("%q: want not found, got %q (%v)", c.cell, got, err)
			}
		default:
			if got != c.want || err != nil {
				t.Errorf("%q: want %s, got %q (%v)", c.cell, c.want, got, err)
			}
		}
	}
	// Only the long name in Greek capitals (2^16 index variants) read every record.
	if !p.ReadAll() {
		t.Error("the long Greek name should have fallen back to reading every record")
	}
	p2, err := e.svc.NewLookupProbe("companies", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !strings.HasPrefix(c.cell, "αλφαβητο") {
			p2.Find(c.cell)
		}
	}
	if p2.ReadAll() {
		t.Error("a lookup read every record for names the index bounds")
	}
	// Asked again, keys come from the cache.
	n := p2.Queries()
	p2.Find("ACME S.P.A.")
	if p2.Queries() != n {
		t.Errorf("a cached key was queried again (%d queries, then %d)", n, p2.Queries())
	}
}

// TestLookupAsSalesUser: a sales user's lookup finds only the contacts they may list, by
// email in any case, as before; the candidate query reads the lookup-key index.
func TestLookupAsSalesUser(t *testing.T) {
	e := newEnv(t)
	mine := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Mario Rossi", "email": "mario.rossi@example.com", "owner": e.alice.Id})
	e.setRaw(t, "contacts", mine.Id, "email", "Mario.Rossi@Example.COM ")
	carols := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Carla Bianchi", "email": "carla@example.com", "owner": e.carol.Id}).Id
	p, err := e.svc.NewLookupProbe("contacts", e.alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range []string{"mario.rossi@example.com", "MARIO.ROSSI@example.com", "mario rossi", "carla@example.com", "Carla Bianchi", carols} {
		got, err := p.Find(cell)
		before, errBefore := p.FindAsBefore(cell)
		if got != before || (err == nil) != (errBefore == nil) {
			t.Errorf("%q: indexed %q (%v), read-all %q (%v)", cell, got, err, before, errBefore)
		}
		if want := mine.Id; strings.Contains(strings.ToLower(cell), "mario") && got != want {
			t.Errorf("%q: want %s, got %q (%v)", cell, want, got, err)
		}
		if strings.Contains(strings.ToLower(cell), "carl") || cell == carols {
			if err == nil {
				t.Errorf("alice found carol's contact by %q", cell)
			}
		}
	}
	su, err := e.svc.NewLookupProbe("contacts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := su.Find("CARLA@example.com"); got != carols {
		t.Errorf("the superuser did not find carol's contact: %q (%v)", got, err)
	}
	for _, who := range []lookupPlanCase{{"contacts", "mario.rossi@example.com"}, {"companies", "Acme S.p.A."}} {
		pp, err := e.svc.NewLookupProbe(who.target, e.alice)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pp.Plan(who.cell)
		if err != nil {
			t.Fatal(err)
		}
		odd, err := pp.OddPlan()
		if err != nil {
			t.Fatal(err)
		}
		if j := strings.Join(odd, "\n"); strings.Contains(j, "SCAN "+who.target) {
			t.Errorf("the %s lookup scans for odd records:\n%s", who.target, j)
		}
		joined := strings.Join(plan, "\n")
		t.Logf("%s plan:\n%s", who.target, joined)
		if strings.Contains(joined, "SCAN "+who.target) || !strings.Contains(joined, "_key") {
			t.Errorf("the %s lookup does not read the lookup-key index:\n%s", who.target, joined)
		}
	}
}

type lookupPlanCase struct{ target, cell string }

// TestLookupIndexesOpenInSQLiteShell: the key indexes' expressions are in the schema every
// SQLite reading the file parses; builds with a fixed parser stack (the sqlite3 shell, which
// administrators use on data.db) refused an earlier, deeply nested expression.
func TestLookupIndexesOpenInSQLiteShell(t *testing.T) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("no sqlite3 shell")
	}
	e := newEnv(t)
	out, err := exec.Command(shell, filepath.Join(e.app.DataDir(), "data.db"),
		"SELECT count(*) FROM sqlite_master WHERE name LIKE '%\\_key' ESCAPE '\\'; SELECT name FROM companies ORDER BY name;").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Acme S.p.A.") {
		t.Fatalf("sqlite3 cannot read the data directory: %v\n%s", err, out)
	}
}
