package hooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// BenchmarkRESTCreateContact creates contacts through the REST API as a sales user, with
// Relata's record hooks (sanitising, access checks, audit trail, refusal reasons …) and
// without them: the ratio is what the hooks cost a create. Reproduce:
//
//	go test -run '^$' -bench RESTCreateContact -benchtime 2000x -count 3 ./hooks/
func BenchmarkRESTCreateContact(b *testing.B) {
	variants := []struct {
		name    string
		hooks   bool
		without []string // handler ids unbound, to see what each costs
	}{
		{"bare", false, nil},
		{"relata", true, nil},
		// Opened as relata serve opens its databases (the statement cache, which keeps the
		// create-rule check too).
		{"relata-served", true, nil},
		{"relata-without-audit", true, []string{"relata.hooks.audit-create"}},
		{"relata-without-links", true, []string{"relata.hooks.links-create"}},
		{"relata-without-sanitize", true, []string{"relata.hooks.sanitize-create"}},
		// The audit hook replaced by its bare transaction around the save, without the insert:
		// what the transaction alone costs.
		{"relata-audit-as-tx-only", true, []string{"relata.hooks.audit-create"}},
		// Without the three hooks this session added to a create, Relata is within the noise of bare.
		{"relata-without-audit-links-sanitize", true, []string{"relata.hooks.sanitize-create", "relata.hooks.audit-create", "relata.hooks.links-create"}},
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
			if v.name == "relata-audit-as-tx-only" {
				app.OnRecordCreateExecute().BindFunc(func(e *core.RecordEvent) error {
					orig := e.App
					defer func() { e.App = orig }()
					return e.App.RunInTransaction(func(tx core.App) error { e.App = tx; return e.Next() })
				})
			}
			app.OnRecordCreateRequest().Unbind(v.without...)
			app.OnRecordCreate().Unbind(v.without...)
			srv := schemastest.Serve(b, app)
			user, tok := schemastest.NewUser(b, app, "rep@example.com", "sales", "north")
			co := schemastest.MustCreate(b, app, "companies", map[string]any{"name": "Bench Co"})
			client := srv.Client()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				send(b, client, http.MethodPost, srv.URL+"/api/collections/contacts/records", tok, map[string]any{"full_name": fmt.Sprintf("Contact %d", i),
					"email": fmt.Sprintf("c%d@example.com", i), "company": co.Id, "owner": user.Id, "lifecycle_stage": "lead"})
			}
			reportCPU(b, cpu)
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used: on a machine shared with
// other work, CPU per operation varies less than wall time per operation.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per operation since start (server, client and
// garbage collector together), as cpu-µs/op.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// BenchmarkRESTUpdateContact updates one field of existing contacts through the REST API as
// their owner (a sales user), with Relata's record hooks and without them; an update also
// loads the record and compares old and new values for the audit entry. Reproduce:
//
//	go test -run '^$' -bench RESTUpdateContact -benchtime 2000x -count 3 ./hooks/
func BenchmarkRESTUpdateContact(b *testing.B) {
	variants := []struct {
		name    string
		hooks   bool
		without []string
	}{
		{"bare", false, nil},
		{"relata", true, nil},
		{"relata-without-audit", true, []string{"relata.hooks.audit-update"}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			app := benchApp(b, v.hooks)
			app.OnRecordUpdateExecute().Unbind(v.without...)
			srv := schemastest.Serve(b, app)
			user, tok := schemastest.NewUser(b, app, "rep@example.com", "sales", "north")
			co := schemastest.MustCreate(b, app, "companies", map[string]any{"name": "Bench Co"})
			const pool = 200 // contacts updated in turn
			ids := make([]string, pool)
			for i := range ids {
				ids[i] = schemastest.MustCreate(b, app, "contacts", map[string]any{"full_name": fmt.Sprintf("Contact %d", i),
					"email": fmt.Sprintf("c%d@example.com", i), "company": co.Id, "owner": user.Id, "lifecycle_stage": "lead"}).Id
			}
			client := srv.Client()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				send(b, client, http.MethodPatch, srv.URL+"/api/collections/contacts/records/"+ids[i%pool], tok,
					map[string]any{"job_title": fmt.Sprintf("Buyer %d", i)})
			}
			reportCPU(b, cpu)
		})
	}
}

// send makes one JSON request as tok and fails the benchmark unless it answers 200.
func send(b *testing.B, client *http.Client, method, url, tok string, body map[string]any) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", tok)
	res, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		b.Fatalf("%s %s = %d", method, url, res.StatusCode)
	}
}

// servedBenchApp is benchApp with Relata's hooks, its databases opened as relata serve opens
// them (schemastest.OpenServedApp: the statement cache).
func servedBenchApp(b *testing.B) *core.BaseApp {
	app := schemastest.OpenServedApp(b, b.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	return app
}

// benchApp is a real app on a temp dir with the default model, with Relata's record hooks
// when withHooks is set.
func benchApp(b *testing.B, withHooks bool) *core.BaseApp {
	app := schemastest.OpenApp(b, b.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if withHooks {
		hooks.MustRegister(app, hooks.Config{Registry: reg})
	}
	return app
}
