package workflows_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestWebhookSecretsStayOutOfDefinitions checks finding 8 of issue 10: a webhook's signing
// secret lives in the secret store, is referenced by name, and never appears in a definition,
// an API answer or an error.
func TestWebhookSecretsStayOutOfDefinitions(t *testing.T) {
	const value = "hook-secret-4f1c9e"
	e := newEnv(t, workflows.Config{WebhookAllow: []string{"127.0.0.1"}})
	admin, adminTok := schemastest.NewUser(t, e.app, "root-admin@example.com", "admin", "")
	_ = admin
	compile := func(action string) error {
		d, err := workflows.Parse("hook.json", []byte(webhookFlow("hook", action)))
		if err != nil {
			return err
		}
		_, err = e.eng.Compile("hook.json", d)
		return err
	}

	t.Run("inline secret refused at save", func(t *testing.T) {
		err := compile(webhookAction("https://example.com/h", `"secret": "`+value+`"`))
		if err == nil {
			t.Fatal("a definition holding a secret was accepted")
		}
		for _, want := range []string{"/actions/0/secret", "relata secret set NAME", `"secret": {"ref": "NAME"}`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if strings.Contains(err.Error(), value) {
			t.Errorf("the error repeats the secret: %v", err)
		}
		// The web app saves workflows as records: the same check applies there.
		code, out := e.api(t, http.MethodPost, "/api/collections/workflows/records", e.mgrTok, map[string]any{
			"name": "hook", "enabled": true,
			"definition": map[string]any{"object": "contacts", "trigger": map[string]any{"type": "record_created"},
				"actions": []any{map[string]any{"type": "webhook", "url": "https://example.com/h", "secret": value}}},
		})
		if code != http.StatusBadRequest || strings.Contains(jsonOf(out), value) {
			t.Errorf("POST workflows record with an inline secret = %d %s; want 400 without the value", code, jsonOf(out))
		}
	})
	t.Run("reference to a missing secret refused", func(t *testing.T) {
		err := compile(webhookAction("https://example.com/h", `"secret": {"ref": "nope"}`))
		if err == nil || !strings.Contains(err.Error(), "/actions/0/secret/ref") || !strings.Contains(err.Error(), `relata secret set nope`) {
			t.Errorf("err = %v; want a located error telling how to store nope", err)
		}
		err = compile(webhookAction("https://example.com/h", `"secret": {"ref": "Bad Name"}`))
		if err == nil || !strings.Contains(err.Error(), "/actions/0/secret") {
			t.Errorf("bad name: err = %v", err)
		}
	})

	t.Run("write-only API", func(t *testing.T) {
		for _, tc := range []struct {
			who, tok string
			want     int
		}{{"anonymous", "", http.StatusUnauthorized}, {"sales", e.aliceTok, http.StatusForbidden}} {
			if code, _ := e.api(t, http.MethodPut, "/api/relata/secrets/crm-hook", tc.tok, map[string]any{"value": "x"}); code != tc.want {
				t.Errorf("PUT as %s = %d; want %d", tc.who, code, tc.want)
			}
			if code, _ := e.api(t, http.MethodGet, "/api/relata/secrets", tc.tok, nil); code != tc.want {
				t.Errorf("GET as %s = %d; want %d", tc.who, code, tc.want)
			}
		}
		if code, out := e.api(t, http.MethodPut, "/api/relata/secrets/crm-hook", e.mgrTok, map[string]any{"value": "first-value"}); code != http.StatusNoContent {
			t.Fatalf("PUT as manager = %d %v", code, out)
		}
		if code, _ := e.api(t, http.MethodPut, "/api/relata/secrets/crm-hook", adminTok, map[string]any{"value": value}); code != http.StatusNoContent {
			t.Fatalf("replace as admin = %d", code)
		}
		if code, out := e.api(t, http.MethodPut, "/api/relata/secrets/Bad%20Name", e.mgrTok, map[string]any{"value": "x"}); code != http.StatusBadRequest {
			t.Errorf("PUT bad name = %d %v; want 400", code, out)
		}
		if code, _ := e.api(t, http.MethodPut, "/api/relata/secrets/empty", e.mgrTok, map[string]any{"value": ""}); code != http.StatusBadRequest {
			t.Errorf("PUT empty value = %d; want 400", code)
		}
		var list []map[string]any
		if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/secrets", e.mgrTok, nil, &list); code != http.StatusOK {
			t.Fatalf("GET = %d", code)
		}
		if len(list) != 1 || list[0]["name"] != "crm-hook" || strings.Contains(jsonOf(list), value) || strings.Contains(jsonOf(list), "first-value") {
			t.Errorf("GET /api/relata/secrets = %s; want the name only", jsonOf(list))
		}
		// Relata's own secrets (the unsubscribe key) are neither listed nor reachable.
		if _, err := schemas.StoredSecret(e.app, "unsubscribe"); err != nil {
			t.Fatal(err)
		}
		schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/secrets", e.mgrTok, nil, &list)
		if len(list) != 1 {
			t.Errorf("generated secrets are listed: %s", jsonOf(list))
		}
		if code, _ := e.api(t, http.MethodDelete, "/api/relata/secrets/unsubscribe", e.mgrTok, nil); code != http.StatusNotFound {
			t.Errorf("DELETE a generated secret = %d; want 404", code)
		}
		// The collection itself stays superusers only.
		code, out := e.api(t, http.MethodGet, "/api/collections/relata_secrets/records", adminTok, nil)
		if code == http.StatusOK || strings.Contains(jsonOf(out), value) {
			t.Errorf("REST list of relata_secrets as admin = %d %s", code, jsonOf(out))
		}
	})

	t.Run("signs with the last stored value", func(t *testing.T) {
		var got []string
		srv := newHookServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			got = append(got, r.Header.Get("X-Relata-Signature"))
			if !verifySignature(value, r.Header, body) {
				http.Error(w, "bad signature", http.StatusUnauthorized)
			}
		})
		e.save(t, webhookFlow("signed", webhookAction(srv.URL+"/hook", `"secret": {"ref": "crm-hook"}`)))
		rec, _ := e.app.FindFirstRecordByData(workflows.Collection, "name", "signed")
		if def := rec.GetString("definition"); strings.Contains(def, value) || !strings.Contains(def, `"ref":"crm-hook"`) && !strings.Contains(def, `"ref": "crm-hook"`) {
			t.Errorf("stored definition = %s; want the reference only", def)
		}
		schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada"})
		e.drain(t)
		if runs := e.runs(t, "workflow_name = 'signed'"); len(runs) != 1 || runs[0].GetString("status") != workflows.StatusSucceeded {
			t.Fatalf("runs = %s", jsonOf(runs))
		}
		// A secret in use cannot be deleted through the API.
		if code, out := e.api(t, http.MethodDelete, "/api/relata/secrets/crm-hook", e.mgrTok, nil); code != http.StatusConflict || !strings.Contains(jsonOf(out), "signed") {
			t.Errorf("DELETE of a secret in use = %d %s; want 409 naming the workflow", code, jsonOf(out))
		}
		// Deleted anyway (relata secret delete), the next run fails at once, naming the secret, not its value.
		if err := schemas.DeleteSecret(e.app, "crm-hook"); err != nil {
			t.Fatal(err)
		}
		if code, _ := e.api(t, http.MethodDelete, "/api/relata/secrets/crm-hook", e.mgrTok, nil); code != http.StatusNotFound {
			t.Errorf("second DELETE = %d; want 404", code)
		}
		schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Bo"})
		e.drain(t)
		runs := e.runs(t, "workflow_name = 'signed' && status = 'failed'")
		if len(runs) != 1 || !strings.Contains(runs[0].GetString("error"), "secret crm-hook") {
			t.Errorf("run after delete = %s; want failed naming secret crm-hook", jsonOf(runs))
		}
		if len(got) != 1 {
			t.Errorf("the receiver got %d requests; want 1", len(got))
		}
	})
}
