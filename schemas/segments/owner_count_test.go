package segments_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
)

// A segment's member_count is its owner's count at the last evaluation: a manager's segment
// counts every contact it matches. A sales user reads segment definitions, but must not read,
// filter or sort by that count: it would tell her how many contacts of other teams match
// (here: that bob has an Italian contact, which she cannot list).
func TestOwnersCountIsNotShownToSales(t *testing.T) {
	w := newWorld(t)
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
	// the manager may
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/segments/records?filter="+url.QueryEscape("member_count >= 2"), w.bossTok, nil, &list); code != 200 || len(list.Items) != 1 {
		t.Errorf("manager filters by member_count = %d %d", code, len(list.Items))
	}
}
