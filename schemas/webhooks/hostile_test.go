package webhooks_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/webhooks"
)

// TestHostileBodies sends signed bodies an attacker who holds a secret (or a sender gone
// wrong) could send: over the size limit (by one byte, and ten times, without a length
// header), nested past the decoder's depth, numbers beyond float64 (once stored as +Inf).
// Each is refused with a 4xx naming no internals, and nothing is written.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, srv := webhookApp(t, c)
	at := c.Now()
	send := func(name string, body []byte, chunked bool) int {
		t.Helper()
		at = at.Add(time.Second)
		r := signed("signups", "whsec_test", at, "", body)
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(bytes.NewReader(body)) // no length: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/relata/hooks/signups", rd)
		req.Header.Set(webhooks.HeaderTimestamp, r.timestamp)
		req.Header.Set(webhooks.HeaderSignature, r.signature)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if len(data) > 4<<10 {
			t.Errorf("%s: the answer has %d bytes", name, len(data))
		}
		return res.StatusCode
	}
	pad := func(n int) []byte {
		prefix := `{"name": "Ada", "x": "`
		return []byte(prefix + strings.Repeat("a", n-len(prefix)-2) + `"}`)
	}
	manyKeys := func(n int) []byte {
		var b strings.Builder
		b.WriteString(`{"name": "Ada"`)
		for i := 0; i < n; i++ {
			b.WriteString(`,"` + strconv.Itoa(i) + `":0`)
		}
		b.WriteString("}")
		return []byte(b.String())
	}
	for _, c := range []struct {
		name     string
		body     []byte
		chunked  bool
		min, max int
	}{
		{"one byte over", pad(webhooks.MaxBody + 1), false, 400, 413},
		{"one byte over, chunked", pad(webhooks.MaxBody + 1), true, 400, 413},
		{"ten times over, chunked", pad(10*webhooks.MaxBody + 1), true, 400, 413},
		{"nested 100,001 deep", append([]byte(`{"name":`), bytes.Repeat([]byte("["), 100_001)...), false, 400, 400},
		{"nested 10,001 deep", []byte(`{"name":` + strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001) + "}"), false, 400, 400},
		{"a number beyond float64", []byte(`{"name": 1e400}`), false, 400, 400},
	} {
		if code := send(c.name, c.body, c.chunked); code < c.min || code > c.max {
			t.Errorf("%s: %d; want %d–%d", c.name, code, c.min, c.max)
		}
	}
	if n, _ := app.CountRecords("contacts"); n != 0 {
		t.Errorf("%d contacts from refused bodies", n)
	}
	// At the limit, and an object of 80,001 keys within it: accepted.
	if code := send("exactly at the limit", pad(webhooks.MaxBody), false); code != 200 {
		t.Errorf("a body of exactly MaxBody: %d; want 200", code)
	}
	b := manyKeys(80_001)
	if len(b) > webhooks.MaxBody {
		t.Fatalf("80,001 keys take %d bytes, over MaxBody", len(b))
	}
	if code := send("80,001 keys", b, false); code != 200 {
		t.Errorf("80,001 keys: %d; want 200", code)
	}
	if n, _ := app.CountRecords(webhooks.DeliveriesCollection, dbx.HashExp{}); n > 2 {
		t.Errorf("%d delivery rows; want at most the 2 applied", n)
	}
}

// TestRefusalNamesNoHiddenEmail: the answer to a delivery goes to another system; it named
// the run-as user by her address ("alice@example.com may not create …") though she keeps
// it hidden, as PocketBase shows it to nobody but herself and superusers. Then the webhook's
// stored secret is emptied (written around the save hook, which makes one): what anyone signs
// with "" was accepted; it is refused as a bad signature.
func TestRefusalNamesNoHiddenEmail(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, srv := webhookApp(t, c)
	alice, err := app.FindAuthRecordByEmail("users", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if alice.GetBool("emailVisibility") {
		t.Fatalf("the test assumes alice keeps her address hidden")
	}
	carol, _ := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	w, _ := app.FindFirstRecordByData(webhooks.Collection, "slug", "signups")
	w.Set("mapping", map[string]string{"full_name": "/name", "owner": "/owner"})
	if err := app.Save(w); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"name": "For carol", "owner": carol.Id})
	a := post(t, srv, signed("signups", "whsec_test", c.Now(), "", body))
	if a.Status != 403 {
		t.Fatalf("a contact for carol as alice: %d (%s); want 403", a.Status, a.Message)
	}
	if strings.Contains(a.Message, alice.Email()) {
		t.Errorf("the refusal names alice's hidden address: %q", a.Message)
	}

	if _, err := app.DB().Update(webhooks.Collection, dbx.Params{"secret": ""}, dbx.HashExp{"slug": "signups"}).Execute(); err != nil {
		t.Fatal(err)
	}
	if a := post(t, srv, signed("signups", "", c.Now(), "", []byte(`{"name": "Ada"}`))); a.Status != 401 {
		t.Errorf("signed with the empty secret: %d (%s); want 401", a.Status, a.Message)
	}
	if n, _ := app.CountRecords("contacts"); n != 0 {
		t.Errorf("%d contacts", n)
	}
}

// TestHiddenFieldsAreNotWritten: a field the operator hid in the dashboard is dropped from
// every REST write but a superuser's, and filters cannot use it. A webhook writes as a user:
// an admin could map a payload value (or a default) into it, and key deliveries by it, so
// that the sender set it and learnt which records have a value. Such a webhook is refused
// at save; one saved before the field was hidden is refused at delivery, writing nothing.
func TestHiddenFieldsAreNotWritten(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, srv := webhookApp(t, c)
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", "admin", "")
	alice, _ := app.FindAuthRecordByEmail("users", "alice@example.com")
	// Saved while message is visible.
	schemastest.MustCreate(t, app, webhooks.Collection, map[string]any{
		"name": "Notes", "slug": "notes", "object": "contacts", "mode": "create",
		"mapping": map[string]string{"full_name": "/name", "message": "/note"}, "run_as": alice.Id, "enabled": true, "secret": "whsec_test",
	})
	coll, err := app.FindCollectionByNameOrId("contacts")
	if err != nil {
		t.Fatal(err)
	}
	coll.Fields.GetByName("message").SetHidden(true)
	if err := app.Save(coll); err != nil {
		t.Fatal(err)
	}
	for _, hook := range []map[string]any{
		{"name": "M", "slug": "m", "object": "contacts", "mode": "create", "mapping": map[string]string{"full_name": "/name", "message": "/note"}, "run_as": alice.Id, "enabled": true},
		{"name": "D", "slug": "d", "object": "contacts", "mode": "create", "mapping": map[string]string{"full_name": "/name"}, "defaults": map[string]any{"message": "x"}, "run_as": alice.Id, "enabled": true},
		{"name": "K", "slug": "k", "object": "contacts", "mode": "upsert", "key": "message", "mapping": map[string]string{"full_name": "/name", "message": "/note"}, "run_as": alice.Id, "enabled": true},
	} {
		var refusal struct{ Message string }
		if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/incoming_webhooks/records", adminTok, hook, &refusal); code != 400 || !strings.Contains(refusal.Message, "hidden") {
			t.Errorf("webhook %s writing the hidden field: %d %q; want 400 naming it hidden", hook["slug"], code, refusal.Message)
		}
	}
	a := post(t, srv, signed("notes", "whsec_test", c.Now(), "", []byte(`{"name": "Ada", "note": "planted"}`)))
	if a.Status != 403 || a.Data["message"] == nil {
		t.Errorf("a delivery into the hidden field: %d %q (%s); want 403 naming message", a.Status, a.Action, a.Message)
	}
	if n, _ := app.CountRecords("contacts", dbx.HashExp{"message": "planted"}); n != 0 {
		t.Errorf("%d contacts with the planted hidden value", n)
	}
}
