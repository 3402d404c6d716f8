package segments_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
)

// engagementWorld adds to newWorld 1,001 contacts (even ones alice's, odd ones bob's), two
// campaigns and their events: contact i opened A two days ago when i%3 == 0, clicked B 40
// days ago when i%5 == 0, replied to A when i%7 == 0, bounced from B when i%11 == 0.
func engagementWorld(t *testing.T) (*world, []*core.Record, string, string) {
	t.Helper()
	w := newWorld(t)
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(-d).Format(types.DefaultDateLayout) }
	campA, campB := core.GenerateDefaultRandomId(), core.GenerateDefaultRandomId()
	for _, c := range []string{campA, campB} {
		if _, err := w.app.DB().NewQuery("INSERT INTO campaigns (id, name, owner, status, created, updated) VALUES ({:id}, {:id}, {:o}, 'sent', {:t}, {:t})").
			Bind(map[string]any{"id": c, "o": w.boss.Id, "t": at(0)}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	var contacts []*core.Record
	var rows [][]any
	for i := 0; i <= 1000; i++ {
		owner := w.alice
		if i%2 == 1 {
			owner = w.bob
		}
		c := schemastest.MustCreate(t, w.app, "contacts", map[string]any{"full_name": fmt.Sprintf("c%04d", i),
			"email": fmt.Sprintf("c%04d@example.com", i), "owner": owner.Id})
		contacts = append(contacts, c)
		ev := func(camp, kind string, ago time.Duration) {
			rows = append(rows, []any{core.GenerateDefaultRandomId(), camp, core.GenerateDefaultRandomId(), c.Id, kind, "", "", at(ago)})
		}
		if i%3 == 0 {
			ev(campA, "open", 48*time.Hour)
		}
		if i%5 == 0 {
			ev(campB, "click", 40*24*time.Hour)
		}
		if i%7 == 0 {
			ev(campA, "reply", time.Hour)
		}
		if i%11 == 0 {
			ev(campB, "bounce", time.Hour)
		}
	}
	if err := schemas.InsertMany(w.app, "campaign_events", []string{"id", "campaign", "recipient", "contact", "type", "url", "detail", "created"}, rows); err != nil {
		t.Fatal(err)
	}
	return w, contacts, campA, campB
}

// A dynamic segment selects contacts by what they did with campaign emails — any campaign or
// one, within N days, or not — counted as each reader sees the contacts: a sales user only
// her own. Expected counts are computed from how the events were made.
func TestEngagementSegmentAt1001Contacts(t *testing.T) {
	w, contacts, campA, campB := engagementWorld(t)
	want := func(pred func(i int) bool, alice bool) int {
		n := 0
		for i := range contacts {
			if pred(i) && (!alice || i%2 == 0) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name   string
		filter string
		eng    []segments.Engagement
		pred   func(i int) bool
	}{
		{"opened any", "", []segments.Engagement{{Event: "open"}}, func(i int) bool { return i%3 == 0 }},
		{"opened A within 7 days", "", []segments.Engagement{{Event: "open", Campaign: campA, Days: 7}}, func(i int) bool { return i%3 == 0 }},
		{"opened B", "", []segments.Engagement{{Event: "open", Campaign: campB}}, func(int) bool { return false }},
		{"clicked within 30 days", "", []segments.Engagement{{Event: "click", Days: 30}}, func(int) bool { return false }},
		{"clicked B within 60 days", "", []segments.Engagement{{Event: "click", Campaign: campB, Days: 60}}, func(i int) bool { return i%5 == 0 }},
		{"replied, not bounced", "", []segments.Engagement{{Event: "reply"}, {Event: "bounce", Not: true}}, func(i int) bool { return i%7 == 0 && i%11 != 0 }},
		{"with a filter: opened and name c00…", `full_name ~ "c00"`, []segments.Engagement{{Event: "open"}}, func(i int) bool { return i%3 == 0 && i < 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"name": tc.name, "kind": segments.Dynamic, "filter": tc.filter, "engagement": tc.eng, "owner": w.boss.Id}
			seg := schemastest.MustCreate(t, w.app, segments.Collection, body)
			for _, r := range []struct {
				who   string
				c     schemas.Caller
				alice bool
			}{{"manager", schemas.User(w.boss), false}, {"alice", schemas.User(w.alice), true}} {
				n, err := segments.Count(w.app, r.c, seg)
				if err != nil {
					t.Fatal(err)
				}
				if exp := want(tc.pred, r.alice); n != exp {
					t.Errorf("%s counts %d, want %d", r.who, n, exp)
				}
			}
			// the builder's live count gives the same, before saving
			n, err := segments.CountDefinition(w.app, schemas.User(w.boss), tc.filter, tc.eng)
			if err != nil || n != want(tc.pred, false) {
				t.Errorf("live count = %d, %v; want %d", n, err, want(tc.pred, false))
			}
		})
	}
	// Evaluate stores the owner's members: exactly the contacts the condition selects.
	seg := schemastest.MustCreate(t, w.app, segments.Collection, map[string]any{"name": "stored", "kind": segments.Dynamic,
		"engagement": []segments.Engagement{{Event: "reply", Campaign: campA}}, "owner": w.boss.Id})
	if err := segments.New(w.app, segments.Config{Interval: -1}).Evaluate(); err != nil {
		t.Fatal(err)
	}
	var stored []string
	if err := w.app.DB().Select("record_id").From(segments.MembersCollection).Where(dbx.HashExp{"segment": seg.Id}).Column(&stored); err != nil {
		t.Fatal(err)
	}
	in := map[string]bool{}
	for _, id := range stored {
		in[id] = true
	}
	for i, c := range contacts {
		if in[c.Id] != (i%7 == 0) {
			t.Fatalf("contact %d stored as member: %v, want %v", i, in[c.Id], i%7 == 0)
		}
	}
}

// Bad conditions are refused with where and why; a sales user's live count may use any
// campaign's engagement but not name a campaign she cannot see; a static segment has none.
func TestEngagementRefusals(t *testing.T) {
	w, _, campA, _ := engagementWorld(t)
	srv := schemastest.Serve(t, w.app)
	var bad struct {
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"engagement": []map[string]any{{"event": "open"}, {"event": "visit"}}}, "/engagement/1/event"},
		{map[string]any{"engagement": []map[string]any{{"event": "open", "days": -3}}}, "/engagement/0/days"},
		{map[string]any{"engagement": []map[string]any{{"event": "open", "campaign": "nosuchcampaign1"}}}, "/engagement/0/campaign"},
		{map[string]any{"engagement": []map[string]any{{"event": "open", "when": "today"}}}, "unknown field"},
	} {
		if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/segments/count", w.bossTok, tc.body, &bad); code != 400 || !strings.Contains(bad.Message, tc.want) {
			t.Errorf("count %v = %d %q, want 400 naming %s", tc.body, code, bad.Message, tc.want)
		}
	}
	var res struct {
		Count int `json:"count"`
	}
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/segments/count", w.aliceTok,
		map[string]any{"engagement": []map[string]any{{"event": "open"}}}, &res); code != 200 || res.Count != 167 {
		t.Errorf("alice's live count of openers = %d %d, want 200 and 167 (i%%6 == 0 of 0…1000)", code, res.Count)
	}
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/segments/count", w.aliceTok,
		map[string]any{"engagement": []map[string]any{{"event": "open", "campaign": campA}}}, &bad); code != 400 || !strings.Contains(bad.Message, "/engagement/0/campaign") {
		t.Errorf("alice naming a campaign = %d %q, want 400", code, bad.Message)
	}
	// saving: located on the engagement field
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/segments/records", w.bossTok,
		map[string]any{"name": "x", "kind": "dynamic", "owner": w.boss.Id, "engagement": []map[string]any{{"event": "opened"}}}, &bad); code != 400 || bad.Data["engagement"] == nil {
		t.Errorf("saving a bad condition = %d %v", code, bad)
	}
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/segments/records", w.bossTok,
		map[string]any{"name": "y", "kind": "static", "owner": w.boss.Id, "engagement": []map[string]any{{"event": "open"}}}, &bad); code != 400 || bad.Data["engagement"] == nil {
		t.Errorf("a static segment with a condition = %d %v", code, bad)
	}
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/segments/records", w.bossTok,
		map[string]any{"name": "z", "kind": "dynamic", "owner": w.boss.Id}, &bad); code != 400 || bad.Data["filter"] == nil {
		t.Errorf("a dynamic segment with neither filter nor condition = %d %v", code, bad)
	}
}

// Each condition is a seek in idx_campaign_events_engagement per contact in scope, never a
// scan of the events, with statistics or without.
func TestEngagementUsesIndex(t *testing.T) {
	w, _, campA, _ := engagementWorld(t)
	seg := schemastest.MustCreate(t, w.app, segments.Collection, map[string]any{"name": "plan", "kind": segments.Dynamic,
		"engagement": []segments.Engagement{{Event: "open", Campaign: campA, Days: 30}, {Event: "bounce", Not: true}}, "owner": w.boss.Id})
	for _, c := range []schemas.Caller{schemas.User(w.boss), schemas.User(w.alice)} {
		q, err := segments.Members(w.app, c, seg)
		if err != nil {
			t.Fatal(err)
		}
		b := q.Build()
		plan := schemastest.QueryPlan(t, w.app, b.SQL(), b.Params())
		if strings.Count(plan, "INDEX idx_campaign_events_engagement (contact=? AND type=?") != 4 || strings.Contains(plan, "SCAN ce") {
			t.Fatalf("engagement conditions miss their index:\n%s", plan)
		}
	}
}
