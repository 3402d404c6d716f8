package transfer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// reassignMix is the 10,000 records a departing rep owns in the benchmark.
var reassignMix = []struct {
	collection string
	n          int
	values     func(i int) dbx.Params
}{
	{"deals", 4000, func(i int) dbx.Params { return dbx.Params{"name": fmt.Sprintf("Deal %d", i), "stage": "lead"} }},
	{"contacts", 3000, func(i int) dbx.Params { return dbx.Params{"full_name": fmt.Sprintf("Contact %d", i)} }},
	{"companies", 1000, func(i int) dbx.Params { return dbx.Params{"name": fmt.Sprintf("Company %d", i)} }},
	{"activities", 2000, func(i int) dbx.Params {
		return dbx.Params{"type": "task", "subject": fmt.Sprintf("Task %d", i), "done": false}
	}},
}

// seedOwned inserts the mix owned by owner with SQL (setup only, not measured) and returns
// the ids per collection.
func seedOwned(b *testing.B, app core.App, owner string) map[string][]string {
	b.Helper()
	ids := map[string][]string{}
	now := types.NowDateTime().String()
	err := app.RunInTransaction(func(tx core.App) error {
		for _, m := range reassignMix {
			for i := range m.n {
				v := m.values(i)
				id := security.RandomStringWithAlphabet(15, core.DefaultIdAlphabet)
				v["id"], v["owner"], v["created"], v["updated"] = id, owner, now, now
				if _, err := tx.DB().Insert(m.collection, v).Execute(); err != nil {
					return err
				}
				ids[m.collection] = append(ids[m.collection], id)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// plainReassign is the loop one writes on bare PocketBase: find each record, set its owner,
// save, in transactions of 200, round robin over to.
func plainReassign(b *testing.B, app core.App, ids map[string][]string, to []string) {
	k := 0
	for _, m := range reassignMix {
		for chunk := range slices.Chunk(ids[m.collection], 200) {
			err := app.RunInTransaction(func(tx core.App) error {
				for _, id := range chunk {
					rec, err := tx.FindRecordById(m.collection, id)
					if err != nil {
						return err
					}
					rec.Set("owner", to[k%len(to)])
					k++
					if err := tx.Save(rec); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReassign10k hands 10,000 records (4,000 deals, 3,000 contacts, 1,000 companies,
// 2,000 open tasks) of a departing rep to two reps round robin:
//
//   - bare: a bare PocketBase app (no Relata hooks) running plainReassign;
//   - hooks-loop: the same loop on an app with Relata's record hooks (audit trail, link
//     checks, rich-text sanitising, triggers …): what Relata's write path costs;
//   - relata: transfer's Reassign as a manager — the job, the list scope, the manager's update
//     rule checked per chunk, the link check, the audit attribution — with the same hooks.
//
// Reproduce (one sub-benchmark after another in each round, three rounds):
//
//	for i in 1 2 3; do go test -run '^$' -bench Reassign10k -benchtime 1x ./schemas/transfer/; done
func BenchmarkReassign10k(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			app := schemastest.OpenApp(b, b.TempDir())
			if err := schemas.MustRegister(app, nil, schemas.Config{}).Sync(); err != nil {
				b.Fatal(err)
			}
			from, _ := schemastest.NewUser(b, app, "leaver@example.com", "sales", "")
			to1, _ := schemastest.NewUser(b, app, "bob@example.com", "sales", "")
			to2, _ := schemastest.NewUser(b, app, "carol@example.com", "sales", "")
			ids := seedOwned(b, app, from.Id)
			b.StartTimer()
			plainReassign(b, app, ids, []string{to1.Id, to2.Id})
		}
		b.ReportMetric(10000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("hooks-loop", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := newEnv(b)
			leaver, _ := schemastest.NewUser(b, e.app, "leaver@example.com", "sales", "")
			ids := seedOwned(b, e.app, leaver.Id)
			b.StartTimer()
			plainReassign(b, e.app, ids, []string{e.bob.Id, e.carol.Id})
		}
		b.ReportMetric(10000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("relata", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := newEnv(b)
			leaver, _ := schemastest.NewUser(b, e.app, "leaver@example.com", "sales", "")
			seedOwned(b, e.app, leaver.Id)
			b.StartTimer()
			j, _, err := e.svc.Reassign(context.Background(), transfer.ReassignOptions{From: leaver.Id, To: []string{e.bob.Id, e.carol.Id}, As: e.mgr})
			if err != nil || j.Changed != 10000 {
				b.Fatalf("%+v %v", j, err)
			}
		}
		b.ReportMetric(10000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
