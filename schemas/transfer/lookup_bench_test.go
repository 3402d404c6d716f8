package transfer_test

import (
	"fmt"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"
)

// insertCompanies adds n companies ("Company 0".."Company n-1", domains c0.example...) by
// SQL, in one transaction: the lookup-key indexes are maintained by SQLite.
func insertCompanies(b *testing.B, app core.App, n int) {
	b.Helper()
	err := app.RunInTransaction(func(tx core.App) error {
		for i := 0; i < n; i += 500 {
			var rows []string
			params := dbx.Params{"now": "2026-12-03 10:00:00.000Z"}
			for j := i; j < min(n, i+500); j++ {
				rows = append(rows, fmt.Sprintf("({:id%d}, {:n%d}, {:d%d}, {:now}, {:now})", j, j, j))
				params[fmt.Sprintf("id%d", j)] = security.PseudorandomString(15)
				params[fmt.Sprintf("n%d", j)] = fmt.Sprintf("Company %d", j)
				params[fmt.Sprintf("d%d", j)] = fmt.Sprintf("c%d.example", j)
			}
			sql := "INSERT INTO companies (id, name, domain, created, updated) VALUES "
			for k, r := range rows {
				if k > 0 {
					sql += ", "
				}
				sql += r
			}
			if _, err := tx.DB().NewQuery(sql).Bind(params).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// as a data directory at rest: the pages in the database file, not in a long WAL
	if _, err := app.DB().NewQuery("PRAGMA wal_checkpoint(TRUNCATE)").Execute(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLookupCompany resolves company names as an import's relation cells do, as a sales
// user, among 1,000 and 100,000 companies. "indexed": one new name per operation (the cache
// never answers), through the lookup-key indexes; "read-all": what an import did before its
// first row (read the keys of every company, then find one); "grouped": the indexed lookup
// as imports use it, 100 cells of a group of rows read at once. The indexed cost should be
// flat; the read-all cost grows with the table.
// Run: go test -run '^$' -bench LookupCompany -benchtime 1000x -count 3 ./schemas/transfer
func BenchmarkLookupCompany(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		e := newEnv(b)
		insertCompanies(b, e.app, n)
		b.Run(fmt.Sprintf("indexed/%d", n), func(b *testing.B) {
			p, err := e.svc.NewLookupProbe("companies", e.alice)
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			cpu0 := cpuSeconds()
			for b.Loop() {
				// a different company each time, over the whole table
				cell := fmt.Sprintf("company %d", (i*7919)%n) // distinct while i < n
				if i%2 == 1 {
					cell = fmt.Sprintf("https://www.c%d.example/", (i*7919)%n)
				}
				if _, err := p.Find(cell); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric((cpuSeconds()-cpu0)*1e6/float64(b.N), "cpu-µs/op")
			if p.ReadAll() {
				b.Fatal("read every record")
			}
		})
		b.Run(fmt.Sprintf("grouped/%d", n), func(b *testing.B) {
			// as an import resolves a group of rows: 100 cells at once, then each row's
			p, err := e.svc.NewLookupProbe("companies", e.alice)
			if err != nil {
				b.Fatal(err)
			}
			cell := func(i int) string {
				if i%2 == 1 {
					return fmt.Sprintf("https://www.c%d.example/", (i*7919)%n)
				}
				return fmt.Sprintf("company %d", (i*7919)%n)
			}
			i := 0
			cpu0 := cpuSeconds()
			for b.Loop() {
				if i%100 == 0 {
					group := make([]string, 100)
					for j := range group {
						group[j] = cell(i + j)
					}
					if err := p.Prefetch(group); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := p.Find(cell(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric((cpuSeconds()-cpu0)*1e6/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(p.Queries())/float64(b.N), "queries/op")
		})
		b.Run(fmt.Sprintf("read-all/%d", n), func(b *testing.B) {
			p, err := e.svc.NewLookupProbe("companies", e.alice)
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuSeconds()
			for b.Loop() {
				if _, err := p.FindAsBefore("company 7"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuSeconds()-cpu0)*1e6/float64(b.N), "cpu-µs/op")
		})
	}
}
