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

// TestCreateRuleThroughStatementCache: with the databases opened as `relata serve` opens them
// (the statement cache keeps PocketBase's create-rule check, normalised), REST creates keep
// their access answers create after create, whatever order PocketBase lists the fields in:
// a sales user creates contacts she owns or leaves unowned, never one owned by a colleague,
// and a manager creates for anyone. A value checked against the wrong column would let the
// colleague's contact through or refuse her own.
func TestCreateRuleThroughStatementCache(t *testing.T) {
	app := schemastest.OpenServedApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	srv := schemastest.Serve(t, app)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	co := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Cache Co"})
	post := func(tok string, body map[string]any) (int, string) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/collections/contacts/records", bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", tok)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			Owner string `json:"owner"`
		}
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out.Owner
	}
	for i := 0; i < 30; i++ {
		body := map[string]any{"full_name": fmt.Sprint("Contact ", i), "email": fmt.Sprintf("c%d@example.com", i), "company": co.Id}
		if i%2 == 0 {
			body["job_title"] = "Buyer" // another field set: another order of the check's columns
		}
		b := func(owner string) map[string]any {
			m := map[string]any{"owner": owner}
			for k, v := range body {
				m[k] = v
			}
			m["email"] = fmt.Sprintf("%s-%d@example.com", owner, i)
			return m
		}
		if code, owner := post(aliceTok, b(alice.Id)); code != 200 || owner != alice.Id {
			t.Fatalf("create %d: alice creates her own contact: %d, owner %q", i, code, owner)
		}
		if code, _ := post(aliceTok, b(bob.Id)); code != 400 {
			t.Fatalf("create %d: alice creates bob's contact: %d, want 400", i, code)
		}
		if code, owner := post(aliceTok, b("")); code != 200 || owner != alice.Id {
			t.Fatalf("create %d: alice creates an unowned contact: %d, owner %q (want her own)", i, code, owner)
		}
		if code, owner := post(mgrTok, b(bob.Id)); code != 200 || owner != bob.Id {
			t.Fatalf("create %d: the manager creates bob's contact: %d, owner %q", i, code, owner)
		}
	}
}
