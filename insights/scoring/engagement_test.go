package scoring_test

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestEngagementScores: campaign events of a contact (workflows/campaigns) count in behaviour
// rules as activities "campaign_<type>", through RunRules and Rescore alike; another
// contact's events do not.
func TestEngagementScores(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: "testdata/rules/objects"})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	rs, errs := scoring.ParseRules("engagement.json", []byte(`{"name": "engagement", "object": "contacts", "field": "score", "gradeField": "grade",
		"rules": [
			{"name": "Clicked a campaign", "activity": "campaign_click", "points": 10},
			{"name": "Replied to a campaign", "activity": "campaign_reply", "points": 30},
			{"name": "Bounced", "activity": "campaign_bounce", "points": -5}],
		"grades": {"A": 40, "B": 20, "C": 5}}`), reg.Object)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ada := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Ada"})
	bo := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Bo"})
	// Events as workflows/campaigns writes them (its tables; the campaign and recipient ids are
	// not checked by SQLite).
	at := time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04:05.000Z")
	for i, ev := range []struct{ contact, typ string }{{ada.Id, "click"}, {ada.Id, "click"}, {ada.Id, "reply"}, {bo.Id, "bounce"}, {bo.Id, "open"}} {
		_, err := app.DB().Insert("campaign_events", dbx.Params{"id": core.GenerateDefaultRandomId(), "campaign": "c", "recipient": "r",
			"contact": ev.contact, "type": ev.typ, "url": "", "detail": "", "created": at}).Execute()
		if err != nil {
			t.Fatal(i, err)
		}
	}
	got := map[string]float64{}
	_, err := scoring.RunRules(app, reg, rs, scoring.RunOptions{Each: func(s scoring.RuleScore) error {
		got[s.ID] = s.Score
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got[ada.Id] != 50 || got[bo.Id] != -5 {
		t.Errorf("scores: Ada %v, Bo %v; want 50 (two clicks, a reply) and -5 (a bounce)", got[ada.Id], got[bo.Id])
	}
	svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	svc.SetRules([]*scoring.RuleSet{rs})
	if err := svc.Rescore(app, ada); err != nil {
		t.Fatal(err)
	}
	if ada.GetFloat("score") != 50 || ada.GetString("grade") != "A" {
		t.Errorf("rescored Ada: %v %q; want 50 A", ada.GetFloat("score"), ada.GetString("grade"))
	}
}
