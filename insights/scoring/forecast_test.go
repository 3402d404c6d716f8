package scoring_test

import (
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestForecastByRepTeamAndQuotas: the forecast sums open deals by expected close month, rep
// and team in the base currency (EUR; USD at 0.9), weighted by stage probability, with
// categories derived from the probability; quotas in two currencies against what was won
// in their period; and a sales rep's forecast covers only her own deals.
func TestForecastByRepTeamAndQuotas(t *testing.T) {
	t.Parallel()
	app, _, _ := newApp(t)
	for _, id := range []string{"lkd000000000001", "lkd000000000002"} {
		rec, err := app.FindRecordById("deals", id)
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Delete(rec); err != nil {
			t.Fatal(err)
		}
	}
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", schemas.RoleSales, "north")
	carol, _ := schemastest.NewUser(t, app, "carol@example.com", schemas.RoleSales, "south")
	_, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	now := time.Now().UTC()
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	next := this.AddDate(0, 1, 0)
	quarter := time.Date(now.Year(), ((now.Month()-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC)
	day := func(t time.Time) string { return t.AddDate(0, 0, 10).Format(time.DateOnly) }
	deal := func(owner, stage string, amount float64, currency string, close string, closedAt time.Time) {
		v := map[string]any{"name": "deal", "owner": owner, "stage": stage, "amount": amount, "amount_currency": currency, "expected_close": close}
		if !closedAt.IsZero() {
			v["closed_at"] = closedAt
		}
		schemastest.MustCreate(t, app, "deals", v)
	}
	deal(alice.Id, "proposal", 1000, "EUR", day(this), time.Time{})    // 50 %: best case
	deal(alice.Id, "negotiation", 2000, "USD", day(next), time.Time{}) // 1,800 EUR at 75 %: commit
	deal(bob.Id, "qualified", 500, "EUR", day(next), time.Time{})      // 25 %: pipeline
	deal(carol.Id, "lead", 400, "EUR", day(this), time.Time{})         // 10 %
	deal(alice.Id, "proposal", 9999, "EUR", "", time.Time{})           // no expected close: outside
	deal(alice.Id, "won", 1000, "USD", "", now)                        // 900 EUR won
	deal(bob.Id, "won", 300, "EUR", "", now)
	deal(carol.Id, "won", 100, "EUR", "", now)
	deal(alice.Id, "lost", 5000, "EUR", day(this), now)
	deal(bob.Id, "proposal", 100000, "JPY", day(this), time.Time{}) // no JPY rate: left out, never 1:1
	schemastest.MustCreate(t, app, schemas.QuotasCollection, map[string]any{"user": alice.Id, "period": "month", "start": this, "amount": 2000, "currency": "USD"})
	schemastest.MustCreate(t, app, schemas.QuotasCollection, map[string]any{"team": "north", "period": "quarter", "start": quarter, "amount": 3000})

	srv := schemastest.Serve(t, app)
	var fc scoring.ForecastReport
	if code := schemastest.Call(t, srv, "GET", "/api/relata/forecast/deals?months=3", mgrTok, nil, &fc); code != 200 {
		t.Fatalf("manager: %d", code)
	}
	if fc.Currency != "EUR" || fc.Source != "stage" || fc.Categories != "probability" || fc.Outside != 1 || fc.Unconverted != 1 || len(fc.Months) != 3 {
		t.Fatalf("forecast %+v", fc)
	}
	want := scoring.Amounts{Count: 4, Total: 3700, Stage: 2015, Model: 2015, Commit: 1800, BestCase: 2800, Won: 1300}
	if fc.Total != want {
		t.Errorf("total %+v; want %+v", fc.Total, want)
	}
	if m := fc.Months[0]; m.Month != this.Format("2006-01") || m.Total != 1400 || m.Stage != 540 || m.Won != 1300 {
		t.Errorf("this month %+v", m)
	}
	if m := fc.Months[1]; m.Total != 2300 || m.Stage != 1475 || m.Commit != 1800 || m.Won != 0 {
		t.Errorf("next month %+v", m)
	}
	reps := map[string]scoring.Amounts{}
	for _, r := range fc.Reps {
		reps[r.Key] = r.Amounts
	}
	if a := reps[alice.Id]; len(reps) != 3 || a.Total != 2800 || a.Stage != 1850 || a.Won != 900 || reps[bob.Id].Won != 300 || reps[carol.Id].Total != 400 {
		t.Errorf("by rep %+v", fc.Reps)
	}
	if len(fc.Teams) != 2 || fc.Teams[0].Key != "north" || fc.Teams[0].Total != 3300 || fc.Teams[0].Stage != 1975 || fc.Teams[0].Won != 1200 ||
		fc.Teams[1].Key != "south" || fc.Teams[1].Won != 100 {
		t.Errorf("by team %+v", fc.Teams)
	}
	attain := func(fc scoring.ForecastReport) map[string]float64 {
		out := map[string]float64{}
		for _, q := range fc.Quotas {
			if q.Attainment != nil {
				out[q.User+q.Team] = *q.Attainment
			}
		}
		return out
	}
	if len(fc.Quotas) != 2 {
		t.Fatalf("quotas %+v", fc.Quotas)
	}
	for _, q := range fc.Quotas {
		switch {
		case q.User == alice.Id && (q.Quota != 1800 || q.Currency != "USD" || q.Won != 900 || q.Stage != 500 || q.Period != this.Format("2006-01")):
			t.Errorf("alice's monthly quota %+v; want 2,000 USD = 1,800 EUR, 900 won", q)
		case q.Team == "north" && (q.Quota != 3000 || q.Won != 1200):
			t.Errorf("north's quarterly quota %+v; want 3,000 EUR, 1,200 won", q)
		}
	}
	if a := attain(fc); a[alice.Id] != 0.5 || a["north"] != 0.4 {
		t.Errorf("attainment %v; want alice 0.5, north 0.4", a)
	}

	// Alice sees her own deals only: the team's numbers are hers.
	fc = scoring.ForecastReport{}
	if code := schemastest.Call(t, srv, "GET", "/api/relata/forecast/deals?months=3", aliceTok, nil, &fc); code != 200 {
		t.Fatalf("alice: %d", code)
	}
	if len(fc.Reps) != 1 || fc.Reps[0].Key != alice.Id || fc.Total.Total != 2800 || fc.Total.Won != 900 || len(fc.Teams) != 1 || fc.Teams[0].Total != 2800 {
		t.Errorf("alice's forecast: reps %+v teams %+v total %+v", fc.Reps, fc.Teams, fc.Total)
	}
	if a := attain(fc); a[alice.Id] != 0.5 || a["north"] != 0.3 {
		t.Errorf("alice's attainment %v; want her own 0.5 and the team's 0.3 (900 of 3,000: bob's deals are not hers to see)", a)
	}

	// Without quotas the list is empty, not null (the dashboard reads its length).
	var raw map[string]any
	if code := schemastest.Call(t, srv, "GET", "/api/relata/forecast/deals?months=1", aliceTok, nil, &raw); code != 200 {
		t.Fatalf("one month: %d", code)
	}
	if q, ok := raw["quotas"].([]any); !ok || len(q) != 2 {
		t.Errorf("quotas of this month = %#v", raw["quotas"])
	}
	if _, err := app.DB().NewQuery("DELETE FROM quotas").Execute(); err != nil {
		t.Fatal(err)
	}
	raw = nil
	schemastest.Call(t, srv, "GET", "/api/relata/forecast/deals", aliceTok, nil, &raw)
	for _, k := range []string{"quotas", "reps", "teams", "months"} {
		if _, ok := raw[k].([]any); !ok {
			t.Errorf("%s = %#v; want a list", k, raw[k])
		}
	}

	var bt scoring.Backtest
	if code := schemastest.Call(t, srv, "GET", "/api/relata/forecast/deals/backtest?months=4", aliceTok, nil, &bt); code != 200 || len(bt.Months) != 4 {
		t.Errorf("backtest: %d %+v", code, bt)
	}
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"anonymous", "/api/relata/forecast/deals", "", 401},
		{"no pipeline", "/api/relata/forecast/companies", aliceTok, 404},
		{"unknown object", "/api/relata/forecast/nope", aliceTok, 404},
		{"too many months", "/api/relata/forecast/deals?months=25", aliceTok, 400},
		{"sales may not retrain", "/api/relata/score/deals/train", aliceTok, 403},
	} {
		method := "GET"
		if c.name == "sales may not retrain" {
			method = "POST"
		}
		if code := schemastest.Call(t, srv, method, c.path, c.token, nil, nil); code != c.want {
			t.Errorf("%s: %d; want %d", c.name, code, c.want)
		}
	}
}

// TestForecastPerPipeline: pipeline=renewals forecasts the renewal deals only, weighted by the
// renewals pipeline's probabilities; the default (sales) leaves them out.
func TestForecastPerPipeline(t *testing.T) {
	t.Parallel()
	app, _, _ := newApp(t)
	_, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	close := time.Now().UTC().AddDate(0, 0, 3).Format(time.DateOnly)
	srv := schemastest.Serve(t, app)
	get := func(q string) scoring.ForecastReport {
		var fc scoring.ForecastReport
		if code := schemastest.Call(t, srv, "GET", "/api/relata/forecast/deals?months=3"+q, mgrTok, nil, &fc); code != 200 {
			t.Fatalf("forecast%s: %d", q, code)
		}
		return fc
	}
	before := get("")
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "r1", "owner": alice.Id, "pipeline": "renewals", "stage": "renewal_due", "amount": 1000, "amount_currency": "EUR", "expected_close": close})
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "r2", "owner": alice.Id, "pipeline": "renewals", "stage": "renewal_talks", "amount": 500, "amount_currency": "EUR", "expected_close": close})
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "s1", "owner": alice.Id, "stage": "proposal", "amount": 200, "amount_currency": "EUR", "expected_close": close})

	fc := get("&pipeline=renewals")
	if fc.Pipeline != "renewals" || fc.Total.Count != 2 || fc.Total.Total != 1500 || fc.Total.Stage != 1000 {
		t.Errorf("renewals forecast %s: %+v; want 2 deals, 1500 total, 600+400 weighted", fc.Pipeline, fc.Total)
	}
	sales := get("&pipeline=sales")
	if sales.Pipeline != "sales" || sales.Total.Count != before.Total.Count+1 || sales.Total.Total != before.Total.Total+200 {
		t.Errorf("sales forecast %+v; want the one new sales deal added to %+v", sales.Total, before.Total)
	}
	var bad struct{ Message string }
	if code := schemastest.Call(t, srv, "GET", "/api/relata/forecast/deals?pipeline=upsell", mgrTok, nil, &bad); code != 400 || !strings.HasPrefix(bad.Message, "Pipeline: deals has no pipeline") {
		t.Errorf("unknown pipeline: %d %q; want 400 naming the parameter", code, bad.Message)
	}
}
