package webhooks_test

import (
	"encoding/json"
	"testing"
	"time"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/webhooks"
)

// TestKeyFindsOnlyVisibleRecords: a webhook keyed by a field that is not unique (a phone)
// finds the run-as user's record although other teams' records, which she may not view,
// share the value and were stored first. The lookup read two records of any team and then
// dropped those she may not view, so two older records of another team hid hers: an update
// answered 404 and an upsert made her a second record — and which answer came told the sender
// about records outside alice's scope. A key given as a list or an object is refused: a list
// was read as "phone IN (…)", matched her record and then cleared its phone; an object
// answered 500.
func TestKeyFindsOnlyVisibleRecords(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, srv := webhookApp(t, c)
	alice, err := app.FindAuthRecordByEmail(schemas.UsersCollection, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	carol, _ := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	dan, _ := schemastest.NewUser(t, app, "dan@example.com", "sales", "south")
	const phone = "+14155550100"
	// Eleven records of another team come first (the lookup read two: 10x its bound, and one).
	for i := 0; i < 11; i++ {
		owner := carol.Id
		if i%2 == 1 {
			owner = dan.Id
		}
		schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "South client", "phone": phone, "job_title": "south", "owner": owner})
	}
	mine := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Alice's client", "phone": phone, "owner": alice.Id})
	stored, _ := app.FindRecordById("contacts", mine.Id)
	storedPhone := stored.GetString("phone")

	for _, mode := range []string{"update", "upsert"} {
		schemastest.MustCreate(t, app, webhooks.Collection, map[string]any{
			"name": "By phone " + mode, "slug": "phone-" + mode, "object": "contacts", "mode": mode, "key": "phone",
			"mapping": map[string]string{"phone": "/phone", "full_name": "/name", "job_title": "/title"},
			"run_as":  alice.Id, "enabled": true, "secret": "whsec_test",
		})
	}
	at := c.Now()
	send := func(slug string, payload any) answer {
		t.Helper()
		at = at.Add(time.Second) // a new signature each time
		body, _ := json.Marshal(payload)
		return post(t, srv, signed(slug, "whsec_test", at, "", body))
	}
	for _, mode := range []string{"update", "upsert"} {
		a := send("phone-"+mode, map[string]any{"phone": storedPhone, "title": "CTO " + mode})
		if a.Status != 200 || a.Action != "updated" || a.ID != mine.Id {
			t.Errorf("%s by alice's phone: %d %q %q (%s); want 200 updated %s", mode, a.Status, a.Action, a.ID, a.Message, mine.Id)
		}
	}
	if n, _ := app.CountRecords("contacts"); n != 12 {
		t.Errorf("%d contacts; want 12 (no second record for alice)", n)
	}
	got, _ := app.FindRecordById("contacts", mine.Id)
	if got.GetString("job_title") != "CTO upsert" {
		t.Errorf("alice's contact has job title %q; want %q", got.GetString("job_title"), "CTO upsert")
	}

	for _, c := range []struct {
		name string
		key  any
	}{
		{"a list of one", []any{storedPhone}},
		{"a list", []any{storedPhone, "+14155550199"}},
		{"an object", map[string]any{"phone": storedPhone}},
	} {
		for _, mode := range []string{"update", "upsert"} {
			a := send("phone-"+mode, map[string]any{"phone": c.key, "name": "Overwritten"})
			if a.Status != 400 || a.Data["phone"] == nil {
				t.Errorf("%s, key as %s: %d %q (%s) %v; want 400 naming phone", mode, c.name, a.Status, a.Action, a.Message, a.Data)
			}
		}
	}
	got, _ = app.FindRecordById("contacts", mine.Id)
	if got.GetString("phone") != storedPhone || got.GetString("full_name") != "Alice's client" {
		t.Errorf("alice's contact = phone %q name %q; want %q and her name unchanged", got.GetString("phone"), got.GetString("full_name"), storedPhone)
	}
	if n, _ := app.CountRecords("contacts"); n != 12 {
		t.Errorf("%d contacts after keys as lists; want 12", n)
	}
}
