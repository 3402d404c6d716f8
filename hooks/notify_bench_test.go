package hooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// BenchmarkRESTCreateNote creates notes through the REST API as a sales user: plain notes, and
// notes that @mention a teammate (each notifies her: the users are read, the mention parsed,
// her access to the note checked, the notification written in the note's transaction). The
// "without-notify" variants unbind the notification hook: the ratio is what it costs.
// Reproduce:
//
//	go test -run '^$' -bench RESTCreateNote -benchtime 1000x -count 3 ./hooks/
func BenchmarkRESTCreateNote(b *testing.B) {
	for _, v := range []struct {
		name    string
		hooks   bool
		notify  bool
		mention bool
	}{
		{"bare/plain", false, false, false},
		{"relata/plain", true, true, false},
		{"relata-without-notify/plain", true, false, false},
		{"relata/mention", true, true, true},
		{"relata-without-notify/mention", true, false, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			app := schemastest.OpenApp(b, b.TempDir())
			reg := schemas.MustRegister(app, nil, schemas.Config{})
			if v.hooks {
				hooks.MustRegister(app, hooks.Config{Registry: reg})
			}
			if !v.notify {
				app.OnRecordCreateExecute().Unbind("relata.hooks.notify-create")
			}
			srv := schemastest.Serve(b, app)
			user, tok := schemastest.NewUser(b, app, "rep@example.com", "sales", "north")
			for i := range 20 { // colleagues the mention is looked up among
				schemastest.NewUser(b, app, fmt.Sprintf("colleague%d@example.com", i), "sales", "north")
			}
			text := "Called them, they want a second offer."
			if v.mention {
				text = "Called them, @colleague7 please prepare a second offer."
			}
			client := srv.Client()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				body, _ := json.Marshal(map[string]any{"type": "note", "subject": fmt.Sprintf("Note %d", i), "body": text, "owner": user.Id})
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/collections/activities/records", bytes.NewReader(body))
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
