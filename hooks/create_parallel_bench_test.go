package hooks_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
)

// BenchmarkRESTCreateContactParallel is BenchmarkRESTCreateContact with 8 concurrent clients
// (4 per core on this 2-core machine): the writes queue for SQLite's one writer, so what a
// hook adds inside the write transaction costs more than its CPU time. Reproduce:
//
//	go test -run '^$' -bench RESTCreateContactParallel -benchtime 3000x -count 3 ./hooks/
func BenchmarkRESTCreateContactParallel(b *testing.B) {
	variants := []struct {
		name    string
		hooks   bool
		without []string
	}{
		{"bare", false, nil},
		{"relata", true, nil},
		{"relata-served", true, nil}, // as relata serve opens its databases (statement cache)
		{"relata-without-audit", true, []string{"relata.hooks.audit-create"}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			var app *core.BaseApp
			if v.name == "relata-served" {
				app = servedBenchApp(b)
			} else {
				app = benchApp(b, v.hooks)
			}
			app.OnRecordCreateExecute().Unbind(v.without...)
			srv := schemastest.Serve(b, app)
			user, tok := schemastest.NewUser(b, app, "rep@example.com", "sales", "north")
			co := schemastest.MustCreate(b, app, "companies", map[string]any{"name": "Bench Co"})
			client := srv.Client()
			var seq atomic.Int64
			b.SetParallelism(4)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					send(b, client, http.MethodPost, srv.URL+"/api/collections/contacts/records", tok, map[string]any{"full_name": fmt.Sprintf("Contact %d", i),
						"email": fmt.Sprintf("c%d@example.com", i), "company": co.Id, "owner": user.Id, "lifecycle_stage": "lead"})
				}
			})
			reportCPU(b, cpu)
		})
	}
}
