package segments_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
)

// A segment's member_count is its owner's count at the last evaluation: a manager's segment
// counts every contact it matches. A sales user reads segment definitions, but must not read,
// filter or sort by that count: it would tell her how many contacts of other teams match
// (here: that bob has an Italian contact, which she cannot list).
func TestOwnersCountIsNotShownToSales(t *testing.T) {
	w := newWorld(t)
	// the filter guard of lists and realtime subscriptions, as the product binds it
	hooks.MustRegister(w.app, hooks.Config{Registry: schemas.MustRegister(w.app, nil, schemas.Config{})})
	srv := schemastest.Serve(t, w.app)
	mustContact(t, w, "ada", w.alice, w.lombard, 0)
	mustContact(t, w, "bea", w.bob, w.lombard, 0)
	seg := schemastest.MustCreate(t, w.app, segments.Collection, map[string]any{
		"name": "Italy", "kind": segments.Dynamic, "filter": `company.country = "Italy"`, "owner": w.boss.Id})
	if err := segments.New(w.app, segments.Config{Interval: -1}).Evaluate(); err != nil {
		t.Fatal(err)
	}

	// the manager keeps reading the stored count
	var rec map[string]any
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/segments/records/"+seg.Id, w.bossTok, nil, &rec); code != 200 || rec["member_count"] != 2.0 {
		t.Fatalf("manager reads member_count = %d %v, want 2", code, rec["member_count"])
	}

	rec = nil
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/segments/records/"+seg.Id, w.aliceTok, nil, &rec); code != 200 {
		t.Fatalf("alice views the segment = %d", code)
	}
	if v, ok := rec["member_count"]; ok {
		t.Errorf("alice reads member_count = %v of the manager's segment", v)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/segments/records", w.aliceTok, nil, &list); code != 200 || len(list.Items) != 1 {
		t.Fatalf("alice lists segments = %d %d", code, len(list.Items))
	}
	if v, ok := list.Items[0]["member_count"]; ok {
		t.Errorf("alice lists member_count = %v", v)
	}
	for _, q := range []string{
		"filter=" + url.QueryEscape("member_count >= 2"),
		"filter=" + url.QueryEscape("1 < member_count"),
		"filter=" + url.QueryEscape("(name != '' && (member_count > 1))"),
		"sort=-member_count",
		"sort=name,member_count",
	} {
		list.Items = nil
		code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/segments/records?"+q, w.aliceTok, nil, &list)
		if code != http.StatusBadRequest {
			t.Errorf("alice lists segments with %s = %d (%d items), want 400", q, code, len(list.Items))
		}
	}
	// through a relation from another collection: the users a rep may list, by their segments
	for _, f := range []string{"segments_via_owner.member_count ?>= 2", "segments_via_owner.member_count:length > 0"} {
		var out struct{ Message string }
		code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/users/records?filter="+url.QueryEscape(f), w.aliceTok, nil, &out)
		if code != http.StatusBadRequest || !strings.Contains(out.Message, "member_count") {
			t.Errorf("alice lists users with %s = %d %q, want 400", f, code, out.Message)
		}
	}
	// realtime: an event of the segment would reach her only while the filter matches
	client := schemastest.RealtimeClient(t, srv)
	for _, q := range []map[string]string{{"filter": "member_count >= 2"}, {"sort": "member_count"}} {
		if code, msg := schemastest.Subscribe(t, srv, client, w.aliceTok, "segments/*", q); code != http.StatusBadRequest || !strings.Contains(msg, "member_count") {
			t.Errorf("alice subscribes to segments with %v = %d %q, want 400", q, code, msg)
		}
	}
	if code, msg := schemastest.Subscribe(t, srv, client, w.aliceTok, "segments/*", map[string]string{"filter": "name != ''"}); code != http.StatusNoContent {
		t.Errorf("alice subscribes to segments by name = %d %q, want 204", code, msg)
	}
	// the manager may
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/segments/records?filter="+url.QueryEscape("member_count >= 2"), w.bossTok, nil, &list); code != 200 || len(list.Items) != 1 {
		t.Errorf("manager filters by member_count = %d %d", code, len(list.Items))
	}
	bossClient := schemastest.RealtimeClient(t, srv)
	if code, msg := schemastest.Subscribe(t, srv, bossClient, w.bossTok, "segments/*", map[string]string{"filter": "member_count >= 2"}); code != http.StatusNoContent {
		t.Errorf("manager subscribes by member_count = %d %q, want 204", code, msg)
	}
}
