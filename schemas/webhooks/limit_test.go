package webhooks_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/webhooks"
)

// capApp serves an app with webhooks that create a contact per delivery as alice, one per
// slug, each with the secret "whsec_test" and the given max_per_day; its clock is c.
func capApp(t *testing.T, c *clock, caps map[string]int) (*core.BaseApp, *webhooks.Service, *httptest.Server, map[string]*core.Record) {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	svc, err := webhooks.Register(app, webhooks.Config{Registry: reg, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	ws := map[string]*core.Record{}
	for slug, n := range caps {
		ws[slug] = schemastest.MustCreate(t, app, webhooks.Collection, map[string]any{
			"name": slug, "slug": slug, "object": "contacts", "mode": "create", "max_per_day": n,
			"mapping": map[string]string{"full_name": "/name"}, "run_as": alice.Id, "enabled": true, "secret": "whsec_test",
		})
	}
	return app, svc, srv, ws
}

// retryAfter posts r and returns the answer's Retry-After header.
func retryAfter(t *testing.T, srv *httptest.Server, r request) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/relata/hooks/"+r.slug, bytes.NewReader(r.body))
	req.Header.Set(webhooks.HeaderTimestamp, r.timestamp)
	req.Header.Set(webhooks.HeaderSignature, r.signature)
	req.Header.Set(webhooks.HeaderDelivery, r.delivery)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 {
		t.Errorf("POST %s: %d; want 429", r.slug, res.StatusCode)
	}
	return res.Header.Get("Retry-After")
}

func countRows(t *testing.T, app core.App, collection string, where dbx.Expression) int {
	t.Helper()
	n, err := app.CountRecords(collection, where)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestDailyCap: a webhook with max_per_day 3 accepts three deliveries within 24 hours —
// with a delivery id or without one (a replay row) — and refuses the fourth with a 429
// naming the limit and when it resets, changing nothing. Duplicates at the cap are still
// answered as duplicates; another webhook is unaffected; a day later deliveries are accepted
// again.
func TestDailyCap(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, _, srv, ws := capApp(t, c, map[string]int{"capped": 3, "other": 3})
	body := func(name string) []byte { return []byte(`{"name": "` + name + `"}`) }
	first := signed("capped", "whsec_test", c.Now(), "d1", body("Ada"))
	noID := signed("capped", "whsec_test", c.Now(), "", body("Bob"))
	for _, r := range []request{first, noID, signed("capped", "whsec_test", c.Now(), "d3", body("Cy"))} {
		if a := post(t, srv, r); a.Status != 200 || a.Duplicate || a.Action != "created" {
			t.Fatalf("a delivery under the cap: %d %q duplicate=%v (%s)", a.Status, a.Action, a.Duplicate, a.Message)
		}
	}
	contacts := countRows(t, app, "contacts", nil)
	rows := countRows(t, app, webhooks.DeliveriesCollection, nil)

	a := post(t, srv, signed("capped", "whsec_test", c.Now(), "d4", body("Di")))
	if a.Status != 429 || a.Data["max_per_day"]["code"] != "rate_limited" || !strings.Contains(a.Message, "limit of 3 deliveries in 24 hours") {
		t.Fatalf("the fourth delivery: %d %q %v; want 429 naming max_per_day and its 3", a.Status, a.Message, a.Data)
	}
	if ra := retryAfter(t, srv, signed("capped", "whsec_test", c.Now(), "d5", body("Eve"))); ra == "" {
		t.Errorf("a 429 without Retry-After")
	}
	var oldest string
	if err := app.DB().NewQuery("SELECT min(created) FROM " + webhooks.DeliveriesCollection + " WHERE webhook = {:w}").
		Bind(dbx.Params{"w": ws["capped"].Id}).Row(&oldest); err != nil {
		t.Fatal(err)
	}
	at, _ := types.ParseDateTime(oldest)
	if want := at.Time().Add(webhooks.Window).UTC().Format(time.RFC3339); a.Data["max_per_day"]["resets_at"] != want || !strings.Contains(a.Message, want) {
		t.Errorf("the refusal %q resets at %q; want %s, 24 hours after the first delivery", a.Message, a.Data["max_per_day"]["resets_at"], want)
	}
	if n := countRows(t, app, "contacts", nil); n != contacts {
		t.Errorf("%d contacts after the refusal; want %d", n, contacts)
	}
	if n := countRows(t, app, webhooks.DeliveriesCollection, nil); n != rows {
		t.Errorf("%d delivery rows after the refusal; want %d", n, rows)
	}

	// At the cap, a retry and a replayed signature are still duplicates, with the first answer.
	for name, r := range map[string]request{"a retry of d1": first, "a replay without an id": noID, "a replay with a new id": func() request { r := noID; r.delivery = "d9"; return r }()} {
		if a := post(t, srv, r); a.Status != 200 || !a.Duplicate || a.Action != "created" {
			t.Errorf("%s at the cap: %d %q duplicate=%v (%s); want 200, a duplicate", name, a.Status, a.Action, a.Duplicate, a.Message)
		}
	}
	// Raised by an admin, the cap takes effect at once; reached again, it refuses again.
	ws["capped"].Set("max_per_day", 4)
	if err := app.Save(ws["capped"]); err != nil {
		t.Fatal(err)
	}
	if a := post(t, srv, signed("capped", "whsec_test", c.Now(), "d6", body("Gus"))); a.Status != 200 || a.Duplicate {
		t.Errorf("a delivery after the cap was raised to 4: %d duplicate=%v (%s); want accepted", a.Status, a.Duplicate, a.Message)
	}
	if a := post(t, srv, signed("capped", "whsec_test", c.Now(), "d7", body("Hal"))); a.Status != 429 {
		t.Errorf("the fifth delivery: %d (%s); want 429", a.Status, a.Message)
	}
	contacts++
	// Another webhook has its own count.
	if a := post(t, srv, signed("other", "whsec_test", c.Now(), "d1", body("Ed"))); a.Status != 200 || a.Duplicate {
		t.Errorf("another webhook: %d duplicate=%v (%s); want accepted", a.Status, a.Duplicate, a.Message)
	}
	if n := countRows(t, app, "contacts", nil); n != contacts+1 {
		t.Errorf("%d contacts; want %d", n, contacts+1)
	}

	// From the reset time the first delivery no longer counts (the window slides).
	c.Add(at.Time().Add(webhooks.Window).Sub(c.Now()) + time.Second)
	if a := post(t, srv, signed("capped", "whsec_test", c.Now(), "d5", body("Flo"))); a.Status != 200 || a.Duplicate || a.Action != "created" {
		t.Errorf("a delivery a day later: %d %q duplicate=%v (%s); want created", a.Status, a.Action, a.Duplicate, a.Message)
	}
}

// TestDailyCapCountsEveryDelivery: Deliver called without a delivery id or signature (not by
// the route) still leaves a row, so that it counts against the cap.
func TestDailyCapCountsEveryDelivery(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, svc, _, ws := capApp(t, c, map[string]int{"one": 1})
	if _, err := svc.Deliver(app, ws["one"], []byte(`{"name": "Ada"}`), webhooks.Delivery{}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Deliver(app, ws["one"], []byte(`{"name": "Bob"}`), webhooks.Delivery{})
	if de, ok := err.(*webhooks.DeliveryError); !ok || de.Status != 429 {
		t.Errorf("a second delivery without id or signature over a cap of 1: %v; want a 429", err)
	}
	if n := countRows(t, app, "contacts", nil); n != 1 {
		t.Errorf("%d contacts; want 1", n)
	}
}

// TestDailyCapAtScale: with no max_per_day a webhook accepts DefaultMaxPerDay (10,000)
// deliveries a day: 9,999 rows of the last day (written with SQL) and 10,001 older ones
// leave room for one delivery, then the 10,001st of the day is refused.
func TestDailyCapAtScale(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, _, srv, ws := capApp(t, c, map[string]int{"busy": 0})
	insertDeliveries(t, app, ws["busy"].Id, "day-", webhooks.DefaultMaxPerDay-1, c.Now().Add(-webhooks.Window+time.Hour))
	insertDeliveries(t, app, ws["busy"].Id, "yesterday-", webhooks.DefaultMaxPerDay+1, c.Now().Add(-webhooks.Window-time.Hour))
	body := func(name string) []byte { return []byte(`{"name": "` + name + `"}`) }
	if a := post(t, srv, signed("busy", "whsec_test", c.Now(), "last", body("Ada"))); a.Status != 200 || a.Duplicate {
		t.Fatalf("the 10,000th delivery of the day: %d duplicate=%v (%s); want accepted", a.Status, a.Duplicate, a.Message)
	}
	if a := post(t, srv, signed("busy", "whsec_test", c.Now(), "over", body("Bob"))); a.Status != 429 || !strings.Contains(a.Message, "limit of 10000 deliveries") {
		t.Errorf("the 10,001st delivery of the day: %d (%s); want 429", a.Status, a.Message)
	}
	if n := countRows(t, app, "contacts", nil); n != 1 {
		t.Errorf("%d contacts; want 1", n)
	}
	if a := post(t, srv, signed("busy", "whsec_test", c.Now(), "last", body("Ada"))); a.Status != 200 || !a.Duplicate {
		t.Errorf("a retry at the cap: %d duplicate=%v (%s); want a duplicate", a.Status, a.Duplicate, a.Message)
	}
}

// TestDailyCapUsesIndex: the count and the reset time read idx_relata_webhook_deliveries_webhook
// (webhook, created), not every row of the table or of the day; a delivery refused again
// before the reset counts nothing.
func TestDailyCapUsesIndex(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, _, srv, _ := capApp(t, c, map[string]int{"one": 1})
	insertDeliveries(t, app, "another", "x-", 500, c.Now().Add(-time.Hour))
	stop := schemastest.LogStatements(t, app)
	post(t, srv, signed("one", "whsec_test", c.Now(), "d1", []byte(`{"name": "Ada"}`)))
	for _, id := range []string{"d2", "d3"} {
		if a := post(t, srv, signed("one", "whsec_test", c.Now(), id, []byte(`{"name": "`+id+`"}`))); a.Status != 429 {
			t.Fatalf("over the cap: %d (%s)", a.Status, a.Message)
		}
	}
	var counts, mins []string
	for _, s := range strings.Split(stop(), "\n") {
		switch {
		case strings.Contains(s, "count(*)") && strings.Contains(s, webhooks.DeliveriesCollection):
			counts = append(counts, s)
		case strings.Contains(s, "min(") && strings.Contains(s, webhooks.DeliveriesCollection):
			mins = append(mins, s)
		}
	}
	// The second refusal, before the reset, is the first one remembered: no count.
	if len(counts) != 2 || len(mins) != 1 {
		t.Fatalf("%d counts and %d reset lookups for 3 deliveries (accepted, refused, refused); want 2 and 1:\n%s\n%s", len(counts), len(mins), counts, mins)
	}
	for _, q := range []string{counts[0], mins[0]} {
		plan := schemastest.QueryPlan(t, app, q, nil)
		if strings.Count(plan, "USING COVERING INDEX idx_relata_webhook_deliveries_webhook (webhook=? AND created>?)") != 2 {
			t.Errorf("%s\nruns as\n%s\nwant a search of idx_relata_webhook_deliveries_webhook by webhook and created", q, plan)
		}
	}
}

// TestDailyCapAdmin: an admin sets max_per_day over REST; a value over MaxPerDayLimit, below
// 0 or not whole is refused with an error that names the field and the limit.
func TestDailyCapAdmin(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if _, err := webhooks.Register(app, webhooks.Config{Registry: reg}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", "admin", "")
	coll, err := app.FindCollectionByNameOrId(webhooks.Collection)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := coll.Fields.GetByName("max_per_day").(*core.NumberField); !ok || f.Max == nil || *f.Max != webhooks.MaxPerDayLimit || !f.OnlyInt {
		t.Errorf("the field max_per_day = %#v; want a whole number up to %d", coll.Fields.GetByName("max_per_day"), webhooks.MaxPerDayLimit)
	}
	hook := func(slug string, n any) map[string]any {
		return map[string]any{"name": slug, "slug": slug, "object": "contacts", "mode": "create", "max_per_day": n,
			"mapping": map[string]string{"full_name": "/name"}, "run_as": alice.Id, "enabled": true}
	}
	var made struct {
		ID        string
		MaxPerDay int `json:"max_per_day"`
	}
	if code := schemastest.Call(t, srv, "POST", "/api/collections/incoming_webhooks/records", adminTok, hook("busy", webhooks.MaxPerDayLimit), &made); code != 200 || made.MaxPerDay != webhooks.MaxPerDayLimit {
		t.Fatalf("a webhook with max_per_day %d: %d %+v", webhooks.MaxPerDayLimit, code, made)
	}
	type refusal struct{ Message string }
	for _, bad := range []any{webhooks.MaxPerDayLimit + 1, -1, 2.5} {
		var r refusal
		code := schemastest.Call(t, srv, "POST", "/api/collections/incoming_webhooks/records", adminTok, hook("too-many", bad), &r)
		if code != 400 || !strings.Contains(r.Message, "from 0 to 100000") || !strings.Contains(r.Message, "default, 10000") {
			t.Errorf("a new webhook with max_per_day %v: %d %q; want 400 naming the limit and the default", bad, code, r.Message)
		}
		r = refusal{}
		code = schemastest.Call(t, srv, "PATCH", "/api/collections/incoming_webhooks/records/"+made.ID, adminTok, map[string]any{"max_per_day": bad}, &r)
		if code != 400 || !strings.Contains(r.Message, "from 0 to 100000") {
			t.Errorf("max_per_day changed to %v: %d %q; want 400 naming the limit", bad, code, r.Message)
		}
	}
	if n := countRows(t, app, webhooks.Collection, dbx.HashExp{"slug": "too-many"}); n != 0 {
		t.Errorf("%d webhooks made with a refused max_per_day", n)
	}
}
