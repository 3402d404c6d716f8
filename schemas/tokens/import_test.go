package tokens_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/tokens"
	"github.com/relata/relata/schemas/transfer"
	"github.com/relata/relata/workflows"
)

// TestScopedTokenImportsNoOtherObject: a write token for contacts imports contacts, and a
// row naming a company that does not exist fails with createMissing instead of creating the
// company (the token does not reach companies); an unscoped token creates it.
func TestScopedTokenImportsNoOtherObject(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	transfer.MustRegister(app, nil, transfer.Config{Registry: reg})
	if _, err := tokens.Register(app, tokens.Config{Registry: reg}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)
	_, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")

	token := func(spec map[string]any) string {
		t.Helper()
		var m struct{ Token string }
		if code := schemastest.Call(t, srv, "POST", "/api/relata/tokens", aliceTok, spec, &m); code != 200 {
			t.Fatalf("make token %v = %d", spec, code)
		}
		return m.Token
	}
	importContacts := func(tok, company string) map[string]any {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "people.csv")
		fw.Write([]byte("Full name,Email,Company\nTok Test,tok-" + strings.ReplaceAll(strings.ToLower(company), " ", "-") + "@example.org," + company + "\n"))
		mw.WriteField("createMissing", "true")
		mw.Close()
		req, _ := http.NewRequest("POST", srv.URL+"/api/relata/import/contacts", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
			t.Fatalf("import = %d %v %v", res.StatusCode, out, err)
		}
		return out
	}
	companies := func(name string) int {
		t.Helper()
		n, err := app.CountRecords("companies", dbx.HashExp{"name": name})
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}

	scoped := token(map[string]any{"name": "contacts only", "scope": "write", "objects": []string{"contacts"}})
	out := importContacts(scoped, "Brand New TokenCo")
	if out["created"] != 0.0 || out["failed"] != 1.0 || !strings.Contains(jsonOf(out["errors"]), "this API token does not reach companies") {
		t.Errorf("a contacts token with createMissing: %v", out)
	}
	if n := companies("Brand New TokenCo"); n != 0 {
		t.Errorf("a contacts token created %d companies", n)
	}
	out = importContacts(token(map[string]any{"name": "all", "scope": "write"}), "Other New Co")
	if out["created"] != 1.0 || out["related"] != 1.0 || companies("Other New Co") != 1 {
		t.Errorf("an unscoped token with createMissing: %v", out)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
