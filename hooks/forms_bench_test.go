package hooks_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// BenchmarkFormSubmitParallel posts new leads to a public form shaped as relata-bench's
// (examples/sales/forms/contact-us.json: dedupe by email, round-robin assignment to sales,
// a required consent, rate limits off) from 8 concurrent clients, the app opened as relata
// serve opens it, beside REST creates of a contact by a sales user in the same app. cpu-µs/op
// is the whole process's (server, client and collector). Reproduce:
//
//	go test -run '^$' -bench FormSubmitParallel -benchtime 3000x -count 3 ./hooks/
func BenchmarkFormSubmitParallel(b *testing.B) {
	for _, v := range []string{"rest-create", "form"} {
		b.Run(v, func(b *testing.B) {
			dir := b.TempDir()
			def := `{"slug": "contact-us", "title": "Contact us", "object": "contacts", "public": true,
			  "fields": [{"name": "full_name"}, {"name": "email", "required": true}, {"name": "phone"}, {"name": "message", "required": true}],
			  "hidden": {"source": "website"},
			  "consent": {"text": "You may contact me.", "version": "1", "required": true},
			  "dedupe": {"by": "email", "update": ["message"], "fill": ["full_name", "phone"]},
			  "assign": {"rules": [{"strategy": "round_robin", "role": "sales"}]},
			  "spam": {"honeypot": "homepage", "minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`
			if err := os.WriteFile(filepath.Join(dir, "contact-us.json"), []byte(def), 0o644); err != nil {
				b.Fatal(err)
			}
			app := schemastest.OpenServedApp(b, b.TempDir())
			reg := schemas.MustRegister(app, nil, schemas.Config{})
			eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
			hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
			forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{dir}})
			srv := schemastest.Serve(b, app)
			b.Cleanup(eng.Stop)
			user, tok := schemastest.NewUser(b, app, "rep@example.com", "sales", "north")
			schemastest.NewUser(b, app, "rep2@example.com", "sales", "north")
			client := srv.Client()
			var seq atomic.Int64
			b.SetParallelism(4)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					if v == "form" {
						send(b, client, http.MethodPost, srv.URL+"/api/relata/forms/contact-us", "", map[string]any{
							"full_name": fmt.Sprintf("Form Lead %d", i), "email": fmt.Sprintf("form%d@bench.local", i),
							"phone": "+44 20 7946 0000", "message": "Please call me about pricing.", "_consent": true})
					} else {
						send(b, client, http.MethodPost, srv.URL+"/api/collections/contacts/records", tok, map[string]any{
							"full_name": fmt.Sprintf("Contact %d", i), "email": fmt.Sprintf("c%d@example.com", i),
							"phone": "+44 20 7946 0000", "owner": user.Id, "lifecycle_stage": "lead"})
					}
				}
			})
			reportCPU(b, cpu)
		})
	}
}
