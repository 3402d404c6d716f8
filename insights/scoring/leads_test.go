package scoring_test

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas/schemastest"
)

// lead creates a contact in lifecycle stage with the given source, decided (last updated)
// at, with a call hoursBefore the outcome for each entry.
func lead(t *testing.T, app core.App, stage, source string, at time.Time, callsBefore ...int) *core.Record {
	t.Helper()
	c := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Lead", "lifecycle_stage": stage, "source": source})
	for _, h := range callsBefore {
		done := at.Add(-time.Duration(h) * time.Hour)
		schemastest.MustCreate(t, app, "activities", map[string]any{"type": "call", "subject": "call", "contact": c.Id, "done": true, "done_at": done})
	}
	created := at.AddDate(0, 0, -30).UTC().Format("2006-01-02 15:04:05.000Z")
	if _, err := app.DB().Update("contacts", dbx.Params{"updated": at.UTC().Format("2006-01-02 15:04:05.000Z"), "created": created},
		dbx.HashExp{"id": c.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLeadConversionAsOfTheOutcome: contacts are a lead object — converted (opportunity,
// customer, evangelist) or disqualified, decided when last updated; the lifecycle stage is
// the outcome, never a feature, and nothing after the outcome counts.
func TestLeadConversionAsOfTheOutcome(t *testing.T) {
	t.Parallel()
	app, reg, _ := newApp(t)
	now := time.Now()
	at := now.AddDate(0, 0, -10)
	won := lead(t, app, "customer", "referral", at, 48, -72) // a call 2 days before, and one 3 days after the conversion
	lost := lead(t, app, "disqualified", "website", at, 5)
	open := lead(t, app, "mql", "website", now)
	d, err := scoring.Load(app, reg, "contacts")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Lead {
		t.Fatal("contacts are not a lead object")
	}
	byID := map[string]*scoring.Record{}
	for _, r := range d.Records {
		byID[r.ID] = r
		if _, ok := r.Cats["lifecycle_stage"]; ok {
			t.Fatalf("lifecycle_stage is a feature of %s: it is the outcome", r.ID)
		}
	}
	w, l, o := byID[won.Id], byID[lost.Id], byID[open.Id]
	if !w.Won || !w.Closed || l.Won || !l.Closed || o.Closed {
		t.Fatalf("outcomes: won %+v lost %+v open %+v", w, l, o)
	}
	if w.ClosedAt.Sub(at).Abs() > time.Second {
		t.Errorf("converted at %v; want %v (its last update)", w.ClosedAt, at)
	}
	if s := w.At(w.ScoredAt(now)); s.Total["call"] != 1 {
		t.Errorf("calls as of the conversion: %v; want 1 (the one after must not count)", s.Total)
	}
	if p := d.StageProb["mql"]; p != scoring.DefaultLeads.Probability["mql"] {
		t.Errorf("fallback probability of mql = %v", p)
	}

	// Below 50 decided leads: no model, the lifecycle stage's probability.
	svc, err := scoring.Register(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	if err != nil {
		t.Fatal(err)
	}
	rep, v, err := svc.TrainAndSave(app, "contacts")
	if err != nil || v != 0 || rep.Fallback == "" {
		t.Fatalf("2 decided leads: version %d, fallback %q, %v", v, rep.Fallback, err)
	}
	res, err := svc.ScoreRecord(app, open, 3)
	if err != nil || res.Source != "stage" || res.Kind != "conversion" || res.P != 0.2 {
		t.Fatalf("open lead without a model: %+v, %v", res, err)
	}

	// 80 more: referrals with calls convert, the others mostly not.
	for i := range 80 {
		src, stage, calls := "website", "disqualified", []int{}
		if i%2 == 0 {
			src, calls = "referral", []int{24, 72}
		}
		if (src == "referral" && i%5 != 0) || (src == "website" && i%5 == 0) {
			stage = "opportunity"
		}
		lead(t, app, stage, src, now.AddDate(0, 0, -20-i), calls...)
	}
	svc.RetrainAll(app)
	st, err := scoring.Latest(app, "contacts")
	if err != nil || st == nil || st.Metrics == nil || st.Metrics.Model.AUC < 0.7 {
		t.Fatalf("contacts model %+v, %v", st, err)
	}
	if deals, _ := scoring.Latest(app, "deals"); deals != nil {
		t.Errorf("deals got a model from 1 closed deal")
	}
	ref := lead(t, app, "sql", "referral", now, 24)
	res, err = svc.ScoreRecord(app, ref, 3)
	if err != nil || res.Source != "model" || res.Kind != "conversion" || res.P < 0.5 || len(res.Factors) == 0 {
		t.Fatalf("open referral with a call: %+v, %v", res, err)
	}
	if _, err := scoring.Load(app, reg, "companies"); err == nil {
		t.Error("companies (no pipeline, no lifecycle) load as a scored object")
	}
}
