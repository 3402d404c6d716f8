package dedupe_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/dedupe"
)

// seedContacts inserts n contacts over n/20 companies, owned by owners in turn, every 20th a
// planted duplicate of the one before (in turn by email, by phone, by name at the same
// company); it returns the planted pairs. Rows go in by SQL in one transaction: the benchmark
// measures finding, not creating.
func seedContacts(tb testing.TB, app core.App, n int, owners []string) [][2]string {
	tb.Helper()
	first := []string{"Mario", "Giulia", "Luca", "Anna", "Marco", "Sara", "Paolo", "Elena", "Andrea", "Chiara", "Davide", "Laura", "Stefano", "Francesca", "Matteo", "Valentina"}
	last := []string{"Rossi", "Bianchi", "Verdi", "Neri", "Russo", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo"}
	r := rand.New(rand.NewPCG(1, 2))
	now := types.NowDateTime().String()
	var planted [][2]string
	err := app.RunInTransaction(func(tx core.App) error {
		companies := make([]string, n/20)
		for i := range companies {
			companies[i] = core.GenerateDefaultRandomId()
			if _, err := tx.DB().Insert("companies", dbx.Params{"id": companies[i], "name": fmt.Sprintf("Company %d", i),
				"created": now, "updated": now}).Execute(); err != nil {
				return err
			}
		}
		var prevID, prevName, prevCompany string
		for i := 0; i < n; i++ {
			id := core.GenerateDefaultRandomId()
			name := first[r.IntN(len(first))] + " " + last[r.IntN(len(last))]
			email := fmt.Sprintf("person%d@example.com", i)
			phone := fmt.Sprintf("+39 02 %04d %04d", i/10000, i%10000)
			company, owner := companies[r.IntN(len(companies))], owners[i%len(owners)]
			if i%20 == 19 {
				switch len(planted) % 3 {
				case 0:
					email = fmt.Sprintf("Person%d+x@Example.com", i-1)
				case 1:
					phone = fmt.Sprintf("0039 02 %04d%04d", (i-1)/10000, (i-1)%10000)
				case 2:
					name, company = prevName+"i", prevCompany // a typo at the same company
				}
				planted = append(planted, [2]string{prevID, id})
			}
			if _, err := tx.DB().Insert("contacts", dbx.Params{"id": id, "full_name": name, "email": email,
				"phone": phone, "company": company, "owner": owner, "created": now, "updated": now}).Execute(); err != nil {
				return err
			}
			prevID, prevName, prevCompany = id, name, company
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return planted
}

// BenchmarkDuplicates10k finds the duplicate pairs among 10,000 contacts, as the system
// (every record) and as a sales user (the team rule applied in SQL), beside bare
// PocketBase reading the same 10,000 records (FindAllRecords) as the yardstick.
func BenchmarkDuplicates10k(b *testing.B) {
	e := newEnv(b, dedupe.Config{})
	seedContacts(b, e.app, 10000, []string{e.alice.Id, e.carol.Id, e.mgr.Id})
	o, _ := e.reg.Object("contacts")
	b.Run("pocketbase-read-all", func(b *testing.B) {
		for b.Loop() {
			recs, err := e.app.FindAllRecords("contacts")
			if err != nil || len(recs) != 10000 {
				b.Fatal(len(recs), err)
			}
		}
	})
	for _, c := range []struct {
		name   string
		caller schemas.Caller
	}{{"system", schemas.System}, {"sales", schemas.User(e.alice)}} {
		b.Run("pairs-"+c.name, func(b *testing.B) {
			var pairs int
			for b.Loop() {
				ix, err := dedupe.NewIndex(e.app, c.caller, o, nil)
				if err != nil {
					b.Fatal(err)
				}
				pairs = len(ix.Pairs())
			}
			b.ReportMetric(float64(pairs), "pairs")
		})
	}
	b.Run("check-one", func(b *testing.B) {
		for b.Loop() {
			m, err := dedupe.Check(e.app, schemas.System, o, nil, map[string]any{"full_name": "Mario Rossi", "email": "Person42@example.com", "phone": "+39 02 0000 0042"}, "")
			if err != nil || len(m) == 0 {
				b.Fatal(m, err)
			}
		}
	})
}

// TestPairs10k checks what the benchmark measures: among 10,000 contacts every planted
// duplicate is listed.
func TestPairs10k(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 10,000 contacts")
	}
	e := newEnv(t, dedupe.Config{})
	planted := seedContacts(t, e.app, 10000, []string{e.alice.Id})
	o, _ := e.reg.Object("contacts")
	start := time.Now()
	ix, err := dedupe.NewIndex(e.app, schemas.System, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	pairs := ix.Pairs()
	t.Logf("%d pairs among %d contacts in %s", len(pairs), ix.Len(), time.Since(start))
	found := map[[2]string]bool{}
	for _, p := range pairs {
		found[[2]string{p.A, p.B}], found[[2]string{p.B, p.A}] = true, true
	}
	for _, p := range planted {
		if !found[p] {
			t.Errorf("planted pair %v not found", p)
		}
	}
}

// BenchmarkLikelyPreview checks the import wizard's 20 preview rows for likely duplicates
// among 10,000 and 100,000 contacts: Likely (a query per row, reading only candidates) beside
// reading every contact into an Index once and matching the rows against it (what Likely did
// before). `go test -run '^$' -bench LikelyPreview -benchtime 3x ./schemas/dedupe/`
func BenchmarkLikelyPreview(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		e := newEnv(b, dedupe.Config{})
		seedContacts(b, e.app, n, []string{e.alice.Id, e.carol.Id, e.mgr.Id})
		o, _ := e.reg.Object("contacts")
		rows := make([]map[string]any, 20)
		for i := range rows { // every row has a phone (a scan); half share an email, a quarter a phone
			k := i * 997 % n
			rows[i] = map[string]any{"full_name": fmt.Sprintf("New Person %d", i), "email": fmt.Sprintf("new%d@example.org", i),
				"phone": fmt.Sprintf("+44 20 7946 %04d", i)}
			switch i % 4 {
			case 0, 2:
				rows[i]["email"] = fmt.Sprintf("Person%d@Example.com", k)
			case 1:
				rows[i]["phone"] = fmt.Sprintf("0039 02 %04d%04d", k/10000, k%10000)
			}
		}
		var found int
		b.Run(fmt.Sprintf("contacts=%d/per-row", n), func(b *testing.B) {
			for b.Loop() {
				m, err := dedupe.Likely(e.app, schemas.User(e.alice), o, rows)
				if err != nil {
					b.Fatal(err)
				}
				found = 0
				for _, x := range m {
					found += min(len(x), 1)
				}
			}
			b.ReportMetric(float64(found), "rows-matched")
		})
		b.Run(fmt.Sprintf("contacts=%d/read-all", n), func(b *testing.B) {
			for b.Loop() {
				ix, err := dedupe.NewIndex(e.app, schemas.User(e.alice), o, nil)
				if err != nil {
					b.Fatal(err)
				}
				found = 0
				for _, r := range rows {
					found += min(len(ix.Match(r, "")), 1)
				}
			}
			b.ReportMetric(float64(found), "rows-matched")
		})
	}
}
