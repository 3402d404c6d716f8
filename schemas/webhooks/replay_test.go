package webhooks_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/webhooks"
)

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

// request is one POST to a webhook, its headers set by hand as a sender (or an attacker
// who captured one) would.
type request struct {
	slug, timestamp, signature, delivery string
	body                                 []byte
}

// signed is a request signed with secret at at.
func signed(slug, secret string, at time.Time, delivery string, body []byte) request {
	return request{slug: slug, timestamp: strconv.FormatInt(at.Unix(), 10), signature: webhooks.Sign(secret, at, body), delivery: delivery, body: body}
}

type answer struct {
	Status    int
	ID        string
	Action    string
	Duplicate bool
	Message   string
	Data      map[string]map[string]string
}

func post(t *testing.T, srv *httptest.Server, r request) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/relata/hooks/"+r.slug, bytes.NewReader(r.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhooks.HeaderTimestamp, r.timestamp)
	req.Header.Set(webhooks.HeaderSignature, r.signature)
	if r.delivery != "" {
		req.Header.Set(webhooks.HeaderDelivery, r.delivery)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var a answer
	_ = json.Unmarshal(data, &a)
	a.Status = res.StatusCode
	return a
}

// webhookApp serves an app with a webhook "signups" that creates a contact per delivery (no
// key: each delivery is a new contact), as alice, with the secret "whsec_test"; its clock is c.
func webhookApp(t *testing.T, c *clock) (*core.BaseApp, *httptest.Server) {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if _, err := webhooks.Register(app, webhooks.Config{Registry: reg, Now: c.Now}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	schemastest.MustCreate(t, app, webhooks.Collection, map[string]any{
		"name": "Signups", "slug": "signups", "object": "contacts", "mode": "create",
		"mapping": map[string]string{"full_name": "/name"}, "run_as": alice.Id, "enabled": true, "secret": "whsec_test",
	})
	return app, srv
}

// TestReplayedSignature sends a captured signed request again with new delivery ids, and
// without one: the signature does not cover the delivery id, so each is the first request
// again and changes nothing. A request signed anew (a new timestamp) is applied.
func TestReplayedSignature(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, srv := webhookApp(t, c)
	t0 := c.Now()
	ada := []byte(`{"name": "Ada"}`)
	bob := []byte(`{"name": "Bob"}`)
	captured := signed("signups", "whsec_test", t0, "d1", ada)
	withNewID := func(r request, id string) request { r.delivery = id; return r }
	noID := signed("signups", "whsec_test", t0, "", bob)

	scenarios := []struct {
		name      string
		req       request
		action    string
		duplicate bool
		sameAs    string // the scenario whose record the answer names
	}{
		{name: "captured", req: captured, action: "created"},
		{name: "replayed as r1", req: withNewID(captured, "r1"), action: "created", duplicate: true, sameAs: "captured"},
		{name: "replayed as r2", req: withNewID(captured, "r2"), action: "created", duplicate: true, sameAs: "captured"},
		{name: "replayed as r3", req: withNewID(captured, "r3"), action: "created", duplicate: true, sameAs: "captured"},
		{name: "replayed without an id", req: withNewID(captured, ""), action: "created", duplicate: true, sameAs: "captured"},
		{name: "retried as d1", req: captured, action: "created", duplicate: true, sameAs: "captured"},
		{name: "sent without an id", req: noID, action: "created"},
		{name: "that replayed as r4", req: withNewID(noID, "r4"), action: "created", duplicate: true, sameAs: "sent without an id"},
		{name: "that replayed again", req: noID, action: "created", duplicate: true, sameAs: "sent without an id"},
		{name: "the same body signed anew", req: signed("signups", "whsec_test", t0.Add(time.Second), "d2", ada), action: "created"},
	}
	ids := map[string]string{}
	for _, sc := range scenarios {
		a := post(t, srv, sc.req)
		if a.Status != 200 || a.Action != sc.action || a.Duplicate != sc.duplicate {
			t.Errorf("%s: %d %q duplicate=%v (%s); want 200 %q duplicate=%v", sc.name, a.Status, a.Action, a.Duplicate, a.Message, sc.action, sc.duplicate)
		}
		if sc.sameAs != "" && a.ID != ids[sc.sameAs] {
			t.Errorf("%s: answered record %q; want %q, the first answer's", sc.name, a.ID, ids[sc.sameAs])
		}
		ids[sc.name] = a.ID
	}
	if n, _ := app.CountRecords("contacts"); n != 3 {
		t.Errorf("%d contacts; want 3 (ada twice, signed twice; bob once)", n)
	}

	// Out of the window the captured requests are refused by their timestamp; the rows kept
	// to recognise them (no delivery id) still count against the daily cap for Window.
	c.Add(webhooks.MaxSkew + time.Second)
	if a := post(t, srv, withNewID(captured, "r5")); a.Status != 401 {
		t.Errorf("the captured request after the window: %d; want 401", a.Status)
	}
	if a := post(t, srv, signed("signups", "whsec_test", c.Now(), "", []byte(`{"name": "Cy"}`))); a.Status != 200 || a.Duplicate {
		t.Errorf("a new delivery after the window: %d duplicate=%v (%s)", a.Status, a.Duplicate, a.Message)
	}
	if n, _ := app.CountRecords(webhooks.DeliveriesCollection, dbx.HashExp{"delivery": ""}); n != 2 {
		t.Errorf("%d rows without a delivery id; want 2 (bob's and cy's: they count against the daily cap)", n)
	}
	// Signed more than Window + MaxSkew ago, they go with the next delivery.
	c.Add(webhooks.Window + webhooks.MaxSkew + time.Second)
	if a := post(t, srv, signed("signups", "whsec_test", c.Now(), "", []byte(`{"name": "Di"}`))); a.Status != 200 || a.Duplicate {
		t.Errorf("a new delivery a day later: %d duplicate=%v (%s)", a.Status, a.Duplicate, a.Message)
	}
	if n, _ := app.CountRecords(webhooks.DeliveriesCollection, dbx.HashExp{"delivery": ""}); n != 1 {
		t.Errorf("%d rows without a delivery id; want 1 (the newest; bob's and cy's are out of the day)", n)
	}
	if n, _ := app.CountRecords(webhooks.DeliveriesCollection, dbx.NewExp("delivery != ''")); n != 2 {
		t.Errorf("%d rows with a delivery id; want 2 (d1, d2: retries may come later than the window)", n)
	}
}

// TestUnknownSlugLooksLikeBadSignature: a stranger cannot tell an unknown or disabled webhook
// from a known one by its answer.
func TestUnknownSlugLooksLikeBadSignature(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app, srv := webhookApp(t, c)
	off, _ := app.FindFirstRecordByData(webhooks.Collection, "slug", "signups")
	off = off.Clone()
	off.Id = ""
	off.MarkAsNew()
	off.Set("slug", "retired")
	off.Set("enabled", false)
	if err := app.Save(off); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"name": "Ada"}`)
	now, stale := c.Now(), c.Now().Add(-time.Hour)
	groups := []struct {
		name     string
		requests map[string]request
	}{
		{"signed", map[string]request{
			"known slug, wrong secret": signed("signups", "whsec_guess", now, "", body),
			"unknown slug":             signed("nope", "whsec_test", now, "", body),
			"disabled webhook":         signed("retired", "whsec_test", now, "", body),
		}},
		{"stale", map[string]request{
			"known slug":   signed("signups", "whsec_test", stale, "", body),
			"unknown slug": signed("nope", "whsec_test", stale, "", body),
		}},
		{"unsigned", map[string]request{
			"known slug":   {slug: "signups", body: body},
			"unknown slug": {slug: "nope", body: body},
		}},
	}
	for _, g := range groups {
		answers := map[string]answer{}
		for name, r := range g.requests {
			a := post(t, srv, r)
			if a.Status != 401 || strings.Contains(a.Message, r.slug) {
				t.Errorf("%s, %s: %d %q; want 401 naming no webhook", g.name, name, a.Status, a.Message)
			}
			answers[name] = a
		}
		for name, a := range answers {
			for other, b := range answers {
				if !reflect.DeepEqual(a, b) {
					t.Errorf("%s: %s answers %+v, %s answers %+v; want the same", g.name, name, a, other, b)
				}
			}
		}
	}
	if n, _ := app.CountRecords("contacts"); n != 0 {
		t.Errorf("%d contacts created by refused requests", n)
	}
}
