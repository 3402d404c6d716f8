package hooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

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
			app := schemastest.OpenApp(b, b.TempDir())
			reg := schemas.MustRegister(app, nil, schemas.Config{})
			if v.hooks {
				hooks.MustRegister(app, hooks.Config{Registry: reg})
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
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				body, _ := json.Marshal(map[string]any{"full_name": fmt.Sprintf("Contact %d", i), "email": fmt.Sprintf("c%d@example.com", i),
					"company": co.Id, "owner": user.Id, "lifecycle_stage": "lead"})
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/collections/contacts/records", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", tok)
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("create = %d", res.StatusCode)
				}
			}
		})
	}
}
