package scoring_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestRuleHitsShowOnlyListedActivities: a contact alice may view has a meeting logged by a
// manager (activities are scoped to their owner's team: alice may not open it). The score
// and grade are the server's, as stored on the contact; but its hits used to say "Meeting
// held +14.7" — that a meeting alice cannot see happened, and, by its decay, when. Now the
// points of what she may not open are one hit that says only that.
func TestRuleHitsShowOnlyListedActivities(t *testing.T) {
	t.Parallel()
	app, _, svc, srv := servedRules(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	mgr, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	ada := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "job_title": "CEO", "owner": alice.Id})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "email", "subject": "Hello", "done": true,
		"done_at": time.Now().Add(-time.Minute), "contact": ada.Id, "owner": alice.Id})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "meeting", "subject": "Board lunch", "done": true,
		"done_at": time.Now().Add(-24 * time.Hour), "contact": ada.Id, "owner": mgr.Id})
	path := "/api/relata/score/contacts/" + ada.Id + "/rules"
	explain := func(token string) scoring.RuleExplanation {
		t.Helper()
		var got struct{ Scores []scoring.RuleExplanation }
		if code := schemastest.Call(t, srv, "GET", path, token, nil, &got); code != 200 || len(got.Scores) != 1 {
			t.Fatalf("%d %+v; want one score", code, got)
		}
		return got.Scores[0]
	}
	svc.Flush() // the activities' writes score the contact again
	stored, err := app.FindRecordById("contacts", ada.Id)
	if err != nil {
		t.Fatal(err)
	}
	full := explain(mgrTok)
	if full.Score != stored.GetFloat("score") || !slices.ContainsFunc(full.Hits, func(h scoring.Hit) bool { return h.Rule == "Meeting held" }) {
		t.Fatalf("manager: %+v; want the stored score %v with the meeting", full, stored.GetFloat("score"))
	}
	got := explain(aliceTok)
	if got.Score != full.Score || got.Grade != full.Grade {
		t.Errorf("alice: %v %s; want the stored %v %s", got.Score, got.Grade, full.Score, full.Grade)
	}
	var sum float64
	var hidden []scoring.Hit
	for _, h := range got.Hits {
		sum += h.Points
		if h.Rule == "Meeting held" {
			t.Errorf("alice's hits %+v name the meeting she may not open", got.Hits)
		}
		if h.Hidden {
			hidden = append(hidden, h)
		}
	}
	if len(hidden) != 1 || hidden[0].Rule != "activities you may not open" || hidden[0].Points <= 0 {
		t.Errorf("alice's hits %+v; want one hit for the activities she may not open", got.Hits)
	}
	if !slices.ContainsFunc(got.Hits, func(h scoring.Hit) bool { return h.Rule == "Email exchanged" }) ||
		!slices.ContainsFunc(got.Hits, func(h scoring.Hit) bool { return h.Rule == "Decision maker" }) {
		t.Errorf("alice's hits %+v; want her own email and the fit rule", got.Hits)
	}
	if d := sum - got.Score; d > 0.05 || d < -0.05 {
		t.Errorf("alice's hits add up to %v; the score is %v", sum, got.Score)
	}
}

// TestFactorsShowOnlyListedActivities: the words of a deal's factors count only the
// activities the caller may list. Alice's deal has a meeting a manager logged (not hers to
// open); its probability is the server's, but no factor says "1 meeting in the last 21 days".
func TestFactorsShowOnlyListedActivities(t *testing.T) {
	t.Parallel()
	app, _, _ := newApp(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	mgr, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	giveOpenDeal(t, app, alice)
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "meeting", "subject": "Lunch with their CFO",
		"done": true, "done_at": time.Now().Add(-48 * time.Hour), "deal": "lkd000000000002", "owner": mgr.Id})
	m := &scoring.Model{Object: "deals",
		Features: []scoring.Feature{
			{Name: "meeting_21d", Kind: "recent", Key: "meeting"},
			{Name: "meeting_total", Kind: "total", Key: "meeting"},
			{Name: "days_since_touch", Kind: "since_touch"}},
		Mean: []float64{0.5, 0.3, 2}, SD: []float64{0.5, 0.4, 1}, Weights: []float64{1.2, 0.4, -0.3}}
	if _, err := scoring.Save(app, m, 100, &scoring.Report{}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	one := func(token string) scoring.Result {
		var got scoring.Result
		if code := schemastest.Call(t, srv, "GET", "/api/relata/score/deals/lkd000000000002", token, nil, &got); code != 200 {
			t.Fatalf("score: %d", code)
		}
		return got
	}
	many := func(token string) scoring.Result {
		var got struct{ Scores map[string]scoring.Result }
		if code := schemastest.Call(t, srv, "GET", "/api/relata/score/deals?ids=lkd000000000002&factors=10", token, nil, &got); code != 200 {
			t.Fatalf("scores: %d", code)
		}
		return got.Scores["lkd000000000002"]
	}
	texts := func(r scoring.Result) string {
		var out []string
		for _, f := range r.Factors {
			out = append(out, f.Text)
		}
		return strings.Join(out, "; ")
	}
	for _, get := range []func(string) scoring.Result{one, many} {
		full, mine := get(mgrTok), get(aliceTok)
		if !strings.Contains(texts(full), "1 meeting in the last 21 days") {
			t.Fatalf("manager's factors %q; want the meeting", texts(full))
		}
		if strings.Contains(texts(mine), "1 meeting") || strings.Contains(texts(mine), "last touch 2 days ago") {
			t.Errorf("alice's factors %q tell of the manager's meeting", texts(mine))
		}
		if math.Abs(mine.P-full.P) > 1e-6 { // (scored a moment apart)
			t.Errorf("alice's probability %v; want the server's %v", mine.P, full.P)
		}
	}
}

// TestRuleHitsShowCampaignEventsToTheirReaders: campaign events are for managers and admins
// (a rep's timeline leaves them out); a rep reading her contact's engagement score sees their
// points as the activities she may not open.
func TestRuleHitsShowCampaignEventsToTheirReaders(t *testing.T) {
	t.Parallel()
	app, reg, svc, srv := servedRules(t)
	rs, errs := scoring.ParseRules("engagement.json", []byte(`{"name": "engagement", "object": "contacts",
		"rules": [{"name": "Clicked a campaign", "activity": "campaign_click", "points": 10}],
		"grades": {"A": 40, "B": 20, "C": 5}}`), reg.Object)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	svc.SetRules([]*scoring.RuleSet{rs})
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	_, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	ada := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "owner": alice.Id})
	at := time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04:05.000Z")
	if _, err := app.DB().Insert("campaign_events", dbx.Params{"id": core.GenerateDefaultRandomId(), "campaign": "c", "recipient": "r",
		"contact": ada.Id, "type": "click", "url": "", "detail": "", "created": at}).Execute(); err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]scoring.Hit{
		mgrTok:   {Rule: "Clicked a campaign", Points: 10},
		aliceTok: {Rule: "activities you may not open", Points: 10, Hidden: true},
	} {
		var got struct{ Scores []scoring.RuleExplanation }
		if code := schemastest.Call(t, srv, "GET", "/api/relata/score/contacts/"+ada.Id+"/rules", token, nil, &got); code != 200 || len(got.Scores) != 1 {
			t.Fatalf("%d %+v", code, got)
		}
		if sc := got.Scores[0]; sc.Score != 10 || !slices.Equal(sc.Hits, []scoring.Hit{want}) {
			t.Errorf("%+v; want 10 from %+v", sc, want)
		}
	}
}
