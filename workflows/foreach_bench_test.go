package workflows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// BenchmarkForEach measures a for_each over 10,000 contacts of a company, each item updated
// (update_record on the item: one transaction per item with its step record), against bare
// PocketBase doing the same 10,000 updates, each in its own transaction (the same data
// directory opened without Relata's hooks), and against Relata's own app making them (its
// record hooks — audit, sanitiser, triggers — without the workflow engine). One iteration is
// one whole run; items/s is reported.
//
//	go test -run xxx -bench ForEach -benchtime 3x -timeout 30m ./workflows/
func BenchmarkForEach(b *testing.B) {
	const n = 10_000
	for _, kind := range []string{"for_each", "relata-updates", "bare-pocketbase"} {
		b.Run(fmt.Sprintf("%s/items=%d", kind, n), func(b *testing.B) {
			e := newBareEnv(b, workflows.Config{})
			acme := schemastest.MustCreate(b, e.app, "companies", map[string]any{"name": "Acme"})
			insertRows(b, e.app, "contacts", n, func(i int) map[string]any {
				return map[string]any{"full_name": fmt.Sprintf("Person %d", i), "company": acme.Id, "job_title": ""}
			})
			e.save(b, `{"name": "each", "enabled": true, "object": "companies", "trigger": {"type": "field_changed", "field": "industry"},
			  "actions": [{"type": "for_each", "over": "contacts.company", "max": 10000, "actions": [
			    {"type": "update_record", "target": "item", "values": {"job_title": "=record.industry"}}]}]}`)
			bare := schemastest.OpenApp(b, e.app.DataDir())
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("r%014d", i)
			}
			industries := []string{"software", "services"}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				industry := industries[i%2]
				if kind != "for_each" {
					app := core.App(bare)
					if kind == "relata-updates" {
						app = e.app
					}
					for _, id := range ids {
						err := app.RunInTransaction(func(tx core.App) error {
							r, err := tx.FindRecordById("contacts", id)
							if err != nil {
								return err
							}
							r.Set("job_title", industry)
							return tx.Save(r)
						})
						if err != nil {
							b.Fatal(err)
						}
					}
					continue
				}
				b.StopTimer()
				c, _ := e.app.FindRecordById("companies", acme.Id)
				c.Set("industry", industry)
				if err := e.app.Save(c); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if got := e.drain(b); got != 1 {
					b.Fatalf("drained %d runs", got)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "items/s")
			if kind == "for_each" {
				if bad := e.count2(b, "workflow_runs", "status != 'succeeded'"); bad != 0 {
					b.Fatalf("%d runs did not succeed", bad)
				}
			}
			last := industries[(b.N-1)%2]
			if got := e.count2(b, "contacts", "job_title = '"+last+"'"); got != n {
				b.Fatalf("%d of %d contacts updated", got, n)
			}
		})
	}
}

func (e *env) count2(t testing.TB, collection, filter string) int {
	t.Helper()
	n, err := e.app.CountRecords(collection, dbx.NewExp(filter))
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}
