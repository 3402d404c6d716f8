package hooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
)

func TestActivityTouchesLinkedRecords(t *testing.T) {
	env := newEnv(t)
	app := env.app
	alice, tok := schemastest.NewUser(t, app, "alice@example.com", "sales", "")
	co := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Acme"})
	ct := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "company": co.Id, "owner": alice.Id})
	dl := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Deal", "owner": alice.Id})
	other := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Untouched", "owner": alice.Id})

	before := time.Now().Add(-time.Second)
	var out map[string]any
	code := schemastest.Call(t, env.srv, http.MethodPost, "/api/collections/activities/records", tok,
		map[string]any{"type": "call", "subject": "Intro call", "contact": ct.Id, "company": co.Id, "deal": dl.Id}, &out)
	if code != http.StatusOK {
		t.Fatalf("log call = %d %v", code, out)
	}
	for _, c := range []struct{ coll, id string }{{"contacts", ct.Id}, {"companies", co.Id}, {"deals", dl.Id}} {
		r, err := app.FindRecordById(c.coll, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.GetDateTime("last_touched").Time(); got.Before(before) {
			t.Errorf("%s last_touched = %v; want now", c.coll, got)
		}
	}
	r, _ := app.FindRecordById("deals", other.Id)
	if !r.GetDateTime("last_touched").IsZero() {
		t.Errorf("an unlinked deal was touched: %v", r.GetDateTime("last_touched"))
	}
	if out["owner"] != alice.Id || out["type"] != "call" {
		t.Errorf("activity = %v", out)
	}
}
