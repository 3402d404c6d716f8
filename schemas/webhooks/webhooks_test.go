package webhooks_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/webhooks"
	"github.com/relata/relata/workflows"
)

// TestIncomingWebhook sends signed deliveries over real HTTP to a webhook that upserts
// contacts by email as alice (sales, team north): signatures, replays and retries, located
// errors, alice's access rules, and the admin-only management.
func TestIncomingWebhook(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	if _, err := webhooks.Register(app, webhooks.Config{Registry: reg}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	carol, _ := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", "admin", "")
	carols := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Carol's client", "email": "client@south.example", "owner": carol.Id})

	call := func(method, path, auth string, body any, out any) int {
		t.Helper()
		return schemastest.Call(t, srv, method, path, auth, body, out)
	}
	hook := map[string]any{
		"name": "Shop signups", "slug": "shop", "object": "contacts", "mode": "upsert", "key": "email",
		"mapping":  map[string]string{"email": "/customer/email", "full_name": "/customer/name", "job_title": "/customer/title", "owner": "/owner"},
		"defaults": map[string]any{"source": "website"}, "run_as": alice.Id, "enabled": true,
	}
	bad := map[string]any{}
	for k, v := range hook {
		bad[k] = v
	}
	bad["mapping"] = map[string]string{"email": "/customer/email", "nope": "/x"}
	var refusal struct {
		Message string
		Data    map[string]any
	}
	if code := call("POST", "/api/collections/incoming_webhooks/records", adminTok, bad, &refusal); code != 400 || !strings.Contains(refusal.Message, `/nope`) {
		t.Errorf("a mapping to no field = %d %q; want 400 naming /nope", code, refusal.Message)
	}
	if code := call("POST", "/api/collections/incoming_webhooks/records", aliceTok, hook, nil); code == 200 {
		t.Errorf("a sales user made a webhook")
	}
	var w struct{ ID string }
	if code := call("POST", "/api/collections/incoming_webhooks/records", adminTok, hook, &w); code != 200 {
		t.Fatalf("make the webhook = %d", code)
	}
	var sec struct{ Secret, URL string }
	if code := call("POST", "/api/relata/webhooks/"+w.ID+"/secret", aliceTok, nil, nil); code != 403 {
		t.Errorf("alice reads the secret: %d; want 403", code)
	}
	if code := call("POST", "/api/relata/webhooks/"+w.ID+"/secret", "", nil, nil); code != 401 {
		t.Errorf("a guest reads the secret: %d; want 401", code)
	}
	if code := call("POST", "/api/relata/webhooks/"+w.ID+"/secret", adminTok, nil, &sec); code != 200 || !strings.HasPrefix(sec.Secret, "whsec_") {
		t.Fatalf("new secret = %d %q", code, sec.Secret)
	}
	var listed map[string]any
	call("GET", "/api/collections/incoming_webhooks/records/"+w.ID, adminTok, nil, &listed)
	if _, shown := listed["secret"]; shown {
		t.Errorf("the secret is readable over REST")
	}

	send := func(slug, secret string, at time.Time, delivery string, payload any) answer {
		t.Helper()
		body, _ := json.Marshal(payload)
		return post(t, srv, signed(slug, secret, at, delivery, body))
	}
	now := time.Now()
	ada := map[string]any{"customer": map[string]any{"email": "ada@shop.example", "name": "Ada Lovelace", "title": "CTO"}}
	for _, c := range []struct {
		name           string
		slug, secret   string
		at             time.Time
		delivery       string
		payload        any
		status         int
		action, field  string
		duplicate      bool
		pointerInError string
	}{
		{name: "wrong secret", slug: "shop", secret: "whsec_guess", at: now, payload: ada, status: 401},
		{name: "a replay an hour later", slug: "shop", secret: sec.Secret, at: now.Add(-time.Hour), payload: ada, status: 401},
		{name: "unknown webhook", slug: "nope", secret: sec.Secret, at: now, payload: ada, status: 401},
		{name: "not an object", slug: "shop", secret: sec.Secret, at: now, payload: []int{1}, status: 400},
		{name: "created", slug: "shop", secret: sec.Secret, at: now, delivery: "d1", payload: ada, status: 200, action: "created"},
		{name: "retried", slug: "shop", secret: sec.Secret, at: now, delivery: "d1", payload: ada, status: 200, action: "created", duplicate: true},
		{name: "sent again", slug: "shop", secret: sec.Secret, at: now.Add(time.Second), delivery: "d2", payload: ada, status: 200, action: "unchanged"},
		{name: "updated", slug: "shop", secret: sec.Secret, at: now, payload: map[string]any{"customer": map[string]any{"email": "ada@shop.example", "title": "CEO"}}, status: 200, action: "updated"},
		{name: "a bad email", slug: "shop", secret: sec.Secret, at: now, payload: map[string]any{"customer": map[string]any{"email": "ada at shop"}}, status: 400, field: "email", pointerInError: "/customer/email"},
		{name: "no key", slug: "shop", secret: sec.Secret, at: now, payload: map[string]any{"customer": map[string]any{"name": "x"}}, status: 400, field: "email"},
		{name: "a contact for carol", slug: "shop", secret: sec.Secret, at: now, payload: map[string]any{"customer": map[string]any{"email": "new@shop.example"}, "owner": carol.Id}, status: 403},
		{name: "carol's contact", slug: "shop", secret: sec.Secret, at: now, payload: map[string]any{"customer": map[string]any{"email": "client@south.example", "name": "Hijacked"}}, status: 400, field: "email"},
	} {
		a := send(c.slug, c.secret, c.at, c.delivery, c.payload)
		if a.Status != c.status || a.Action != c.action || a.Duplicate != c.duplicate {
			t.Errorf("%s: %d %q duplicate=%v (%s); want %d %q duplicate=%v", c.name, a.Status, a.Action, a.Duplicate, a.Message, c.status, c.action, c.duplicate)
		}
		if c.field != "" && a.Data[c.field] == nil {
			t.Errorf("%s: the error %q %v does not name the field %s", c.name, a.Message, a.Data, c.field)
		}
		if c.pointerInError != "" && a.Data[c.field]["pointer"] != c.pointerInError {
			t.Errorf("%s: the error %v does not name the pointer %s", c.name, a.Data, c.pointerInError)
		}
	}
	got, err := app.FindFirstRecordByData("contacts", "email", "ada@shop.example")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetString("owner") != alice.Id || got.GetString("source") != "website" || got.GetString("job_title") != "CEO" || got.GetString("full_name") != "Ada Lovelace" {
		t.Errorf("the contact = owner %s source %q title %q name %q", got.GetString("owner"), got.GetString("source"), got.GetString("job_title"), got.GetString("full_name"))
	}
	if n, _ := app.CountRecords("contacts"); n != 2 {
		t.Errorf("%d contacts; want carol's and ada", n)
	}
	if again, _ := app.FindRecordById("contacts", carols.Id); again.GetString("full_name") != "Carol's client" {
		t.Errorf("carol's contact changed through alice's webhook: %q", again.GetString("full_name"))
	}
	stats, _ := app.FindRecordById("incoming_webhooks", w.ID)
	if stats.GetInt("received") != 9 || stats.GetInt("failed") != 5 || stats.GetString("last_error") == "" {
		t.Errorf("counted received %d failed %d (%q); want 9 and 5 (bad signatures and unknown webhooks are not counted)", stats.GetInt("received"), stats.GetInt("failed"), stats.GetString("last_error"))
	}
	// Disabled: answered as a bad signature (TestUnknownSlugLooksLikeBadSignature).
	if code := call("PATCH", "/api/collections/incoming_webhooks/records/"+w.ID, adminTok, map[string]any{"enabled": false}, nil); code != 200 {
		t.Fatalf("disable = %d", code)
	}
	if a := send("shop", sec.Secret, now.Add(2*time.Second), "", ada); a.Status != 401 {
		t.Errorf("a disabled webhook answers %d", a.Status)
	}
}
