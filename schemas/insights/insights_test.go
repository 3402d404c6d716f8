package insights_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/insights"
	"github.com/relata/relata/schemas/schemastest"
)

// env is the default CRM model with the example sales data.
type env struct {
	app   *core.BaseApp
	reg   *schemas.Registry
	svc   *insights.Service
	users map[string]*core.Record // by email
}

func newEnv(t testing.TB, seed bool) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	e := &env{app: app, reg: reg, svc: insights.MustRegister(app, insights.Config{Registry: reg}), users: map[string]*core.Record{}}
	if seed {
		if err := reg.SeedFrom(io.Discard, "../../examples/sales"); err != nil {
			t.Fatal(err)
		}
		us, err := app.FindAllRecords("users")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range us {
			e.users[u.Email()] = u
		}
	}
	return e
}

// visibleDeals is the direct query: every deal of the sales pipeline (the reports' default),
// filtered in Go the way the access policy reads (sales users: their own; managers and admins: all).
func (e *env) visibleDeals(t *testing.T, user *core.Record) []*core.Record {
	t.Helper()
	return e.visibleIn(t, user, "sales")
}

// visibleIn is visibleDeals for the named pipeline (deals without one are in sales).
func (e *env) visibleIn(t *testing.T, user *core.Record, pipeline string) []*core.Record {
	t.Helper()
	all, err := e.app.FindAllRecords("deals")
	if err != nil {
		t.Fatal(err)
	}
	all = slices.DeleteFunc(all, func(r *core.Record) bool {
		p := r.GetString("pipeline")
		return p != pipeline && !(p == "" && pipeline == "sales")
	})
	if user.GetString("role") != schemas.RoleSales {
		return all
	}
	return slices.DeleteFunc(all, func(r *core.Record) bool { return r.GetString("owner") != user.Id })
}

func probabilities(e *env) map[string]*schemas.Stage {
	deals, _ := e.reg.Object("deals")
	out := map[string]*schemas.Stage{}
	for _, s := range deals.Pipeline("sales").Stages {
		out[s.Name] = s
	}
	return out
}

// exampleRates are the latest rates of examples/sales/seed/exchange_rates.csv, written out by
// hand (TestExampleRates checks them against the file): the reports convert with them.
var exampleRates = map[string]float64{"EUR": 1, "GBP": 1.17, "USD": 0.92}

// inEUR is a deal's amount converted by hand.
func inEUR(t *testing.T, d *core.Record) float64 {
	t.Helper()
	rate, ok := exampleRates[d.GetString("amount_currency")]
	if !ok {
		t.Fatalf("deal %s has currency %q, which the example rates lack", d.Id, d.GetString("amount_currency"))
	}
	return d.GetFloat("amount") * rate
}

// near says whether a reported amount (rounded to cents) is the hand-computed one.
func near(got, want float64) bool { return math.Abs(got-want) < 0.006 }

var everyone = []string{"alice@example.com", "bob@example.com", "carol@example.com", "manager@example.com", "admin@example.com"}

// TestPipelineMatchesDirectQuery: for each user, the board's numbers are exactly the sums of
// the deals that user may see.
func TestPipelineMatchesDirectQuery(t *testing.T) {
	e := newEnv(t, true)
	stages := probabilities(e)
	for _, email := range everyone {
		t.Run(email, func(t *testing.T) {
			user := e.users[email]
			got, err := e.svc.Pipeline(insights.Caller(user), insights.Query{Object: "deals"})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]*insights.Totals{}
			var open insights.Totals
			for _, d := range e.visibleDeals(t, user) {
				st := stages[d.GetString("stage")]
				if want[st.Name] == nil {
					want[st.Name] = &insights.Totals{}
				}
				w := want[st.Name]
				w.Count++
				w.Total += inEUR(t, d)
				if !st.IsClosed() {
					open.Count++
					open.Total += inEUR(t, d)
				}
			}
			for _, s := range got.Stages {
				w := want[s.Name]
				if w == nil {
					w = &insights.Totals{}
				}
				if s.Count != w.Count || !near(s.Total, w.Total) || !near(s.Weighted, w.Total*s.Probability/100) {
					t.Errorf("stage %s = %d / %v / %v; want %d / %v / %v", s.Name, s.Count, s.Total, s.Weighted, w.Count, w.Total, w.Total*s.Probability/100)
				}
			}
			if got.Open.Count != open.Count || !near(got.Open.Total, open.Total) {
				t.Errorf("open = %d / %v; want %d / %v", got.Open.Count, got.Open.Total, open.Count, open.Total)
			}
			if email == "manager@example.com" && got.Open.Count+got.Won.Count+got.Lost.Count != 100 {
				t.Errorf("the manager sees %d deals; want all 100", got.Open.Count+got.Won.Count+got.Lost.Count)
			}
			if got.Currency != "EUR" || got.RatesDate != time.Now().UTC().Format(time.DateOnly) || len(got.MissingRates) != 0 {
				t.Errorf("conversion = %+v; want EUR at today's rates, none missing", got.Conversion)
			}
		})
	}
}

// TestPipelinePerPipeline: the renewals board counts only renewal deals, per stage of the
// renewals pipeline, for each user; an unknown pipeline is a located query error.
func TestPipelinePerPipeline(t *testing.T) {
	e := newEnv(t, true)
	deals, _ := e.reg.Object("deals")
	for _, email := range everyone {
		user := e.users[email]
		got, err := e.svc.Pipeline(insights.Caller(user), insights.Query{Object: "deals", Pipeline: "renewals"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Pipeline != "renewals" || len(got.Stages) != len(deals.Pipeline("renewals").Stages) {
			t.Fatalf("%s: pipeline %q with %d stages; want renewals' 4", email, got.Pipeline, len(got.Stages))
		}
		want := map[string]int{}
		total := map[string]float64{}
		for _, d := range e.visibleIn(t, user, "renewals") {
			want[d.GetString("stage")]++
			total[d.GetString("stage")] += inEUR(t, d)
		}
		n := 0
		for _, s := range got.Stages {
			n += s.Count
			if s.Count != want[s.Name] || !near(s.Total, total[s.Name]) {
				t.Errorf("%s: renewals %s = %d / %v; want %d / %v", email, s.Name, s.Count, s.Total, want[s.Name], total[s.Name])
			}
		}
		if email == "manager@example.com" && n != 5 {
			t.Errorf("the manager sees %d renewals; want the 5 seeded", n)
		}
		if got.Other.Count != 0 {
			t.Errorf("%s: %d records outside the renewals stages; want none (sales deals are not counted)", email, got.Other.Count)
		}
	}
	fc, err := e.svc.Forecast(insights.Caller(e.users["manager@example.com"]), insights.Query{Object: "deals", Pipeline: "renewals"})
	if err != nil || fc.Pipeline != "renewals" {
		t.Fatalf("renewals forecast = %+v, %v", fc, err)
	}
	// The board's owner and team filters: the manager looking at Alice's deals, and at a team's.
	mgr := e.users["manager@example.com"]
	alice := e.users["alice@example.com"]
	for _, q := range []insights.Query{{Object: "deals", Owner: alice.Id}, {Object: "deals", Team: alice.GetString("team")}} {
		got, err := e.svc.Pipeline(insights.Caller(mgr), q)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, d := range e.visibleDeals(t, mgr) {
			owner, err := e.app.FindRecordById("users", d.GetString("owner"))
			if err == nil && (q.Owner != "" && owner.Id == q.Owner || q.Team != "" && owner.GetString("team") == q.Team) {
				want++
			}
		}
		if n := got.Open.Count + got.Won.Count + got.Lost.Count; n != want || want == 0 {
			t.Errorf("filter %+v: %d deals; want %d (not 0)", q, n, want)
		}
	}
	// Time in stage is per record, whatever its pipeline: the churned renewal left 20 days ago.
	since, err := e.svc.StageSince(insights.Caller(mgr), insights.Query{Object: "deals"}, []string{"dea000000000905"})
	if days := time.Since(since["dea000000000905"]).Hours() / 24; err != nil || days < 19.9 || days > 20.1 {
		t.Errorf("the churned renewal is in its stage since %v (%v days, %v); want 20 days", since, days, err)
	}
	if _, err := e.svc.Pipeline(insights.Caller(e.users["manager@example.com"]), insights.Query{Object: "deals", Pipeline: "upsell"}); err == nil {
		t.Error("an unknown pipeline was accepted")
	}
}

// TestPipelineSQL checks the numbers against SQL run by hand on the database.
func TestPipelineSQL(t *testing.T) {
	e := newEnv(t, true)
	alice := e.users["alice@example.com"]
	got, err := e.svc.Pipeline(insights.Caller(alice), insights.Query{Object: "deals", Pipeline: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		N     int     `db:"n"`
		Total float64 `db:"total"`
	}
	err = e.app.DB().NewQuery(`SELECT COUNT(*) AS n, COALESCE(SUM(amount * CASE amount_currency WHEN 'GBP' THEN 1.17 WHEN 'USD' THEN 0.92 ELSE 1 END), 0) AS total FROM deals
		WHERE owner = {:owner} AND stage IN ('lead', 'qualified', 'proposal', 'negotiation')`).Bind(map[string]any{"owner": alice.Id}).One(&want)
	if err != nil {
		t.Fatal(err)
	}
	if got.Open.Count != want.N || !near(got.Open.Total, want.Total) {
		t.Errorf("alice's open pipeline = %d / %v; SQL says %d / %v", got.Open.Count, got.Open.Total, want.N, want.Total)
	}
}

func TestForecastMatchesDirectQuery(t *testing.T) {
	e := newEnv(t, true)
	stages := probabilities(e)
	for _, email := range []string{"alice@example.com", "manager@example.com"} {
		user := e.users[email]
		got, err := e.svc.Forecast(insights.Caller(user), insights.Query{Object: "deals"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]insights.Totals{}
		for _, d := range e.visibleDeals(t, user) {
			st := stages[d.GetString("stage")]
			if st.IsClosed() {
				continue
			}
			month := ""
			if dt := d.GetDateTime("expected_close"); !dt.IsZero() {
				month = dt.Time().UTC().Format("2006-01")
			}
			w := want[month]
			w.Count++
			w.Total += inEUR(t, d)
			w.Weighted += inEUR(t, d) * st.Probability / 100
			want[month] = w
		}
		if len(got.Months) != len(want) {
			t.Errorf("%s: %d months; want %d", email, len(got.Months), len(want))
		}
		for i, m := range got.Months {
			w := want[m.Month]
			if m.Count != w.Count || !near(m.Total, w.Total) || !near(m.Weighted, w.Weighted) {
				t.Errorf("%s month %s = %+v; want %+v", email, m.Month, m.Totals, w)
			}
			if i > 0 && m.Month != "" && got.Months[i-1].Month > m.Month {
				t.Errorf("months out of order: %s before %s", got.Months[i-1].Month, m.Month)
			}
		}
	}
}

func TestSourcesMatchDirectQuery(t *testing.T) {
	e := newEnv(t, true)
	stages := probabilities(e)
	for _, email := range []string{"bob@example.com", "admin@example.com"} {
		user := e.users[email]
		got, err := e.svc.Sources(insights.Caller(user), insights.Query{Object: "deals"})
		if err != nil {
			t.Fatal(err)
		}
		type counts struct {
			all, won, lost int
			wonAmount      float64
		}
		want := map[string]*counts{}
		for _, d := range e.visibleDeals(t, user) {
			src := d.GetString("source")
			if want[src] == nil {
				want[src] = &counts{}
			}
			want[src].all++
			switch st := stages[d.GetString("stage")]; {
			case st.Won:
				want[src].won++
				want[src].wonAmount += inEUR(t, d)
			case st.Lost:
				want[src].lost++
			}
		}
		if len(got.Sources) != len(want) {
			t.Errorf("%s: %d sources; want %d", email, len(got.Sources), len(want))
		}
		for _, s := range got.Sources {
			w := want[s.Value]
			if w == nil || s.Count != w.all || s.Won != w.won || s.Lost != w.lost || !near(s.WonAmount, w.wonAmount) {
				t.Errorf("%s source %q = %d/%d/%d; want %+v", email, s.Value, s.Count, s.Won, s.Lost, w)
				continue
			}
			if w.won+w.lost > 0 && (s.WinRate == nil || *s.WinRate != float64(w.won)/float64(w.won+w.lost)) {
				t.Errorf("%s source %q win rate = %v; want %d/%d", email, s.Value, s.WinRate, w.won, w.won+w.lost)
			}
			if w.won+w.lost == 0 && s.WinRate != nil {
				t.Errorf("%s source %q has a win rate without closed deals", email, s.Value)
			}
			if s.ConversionRate == nil || *s.ConversionRate != float64(w.won)/float64(w.all) {
				t.Errorf("%s source %q conversion = %v; want %d/%d", email, s.Value, s.ConversionRate, w.won, w.all)
			}
		}
	}
}

// TestCycle: days to close and time in stage from a stage history written by hand.
func TestCycle(t *testing.T) {
	e := newEnv(t, false)
	alice, _ := schemastest.NewUser(t, e.app, "alice@example.com", "sales", "north")
	bob, _ := schemastest.NewUser(t, e.app, "bob@example.com", "sales", "north")
	mgr, _ := schemastest.NewUser(t, e.app, "mgr@example.com", "manager", "")
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour

	deal := func(owner *core.Record, stage string, closedAt time.Time, history ...any) *core.Record {
		t.Helper()
		coll, _ := e.app.FindCollectionByNameOrId("deals")
		r := core.NewRecord(coll)
		r.Set("name", "deal of "+owner.Email())
		r.Set("stage", stage)
		r.Set("owner", owner.Id)
		r.Set("amount", 1000)
		if !closedAt.IsZero() {
			r.Set("closed_at", closedAt)
		}
		created, _ := types.ParseDateTime(t0)
		r.SetRaw("created", created)
		if err := e.app.Save(r); err != nil {
			t.Fatal(err)
		}
		// history: from, to, at; ...
		for i := 0; i < len(history); i += 3 {
			schemastest.MustCreate(t, e.app, insights.StageChangesCollection, map[string]any{
				"object": "deals", "record": r.Id, "field": "stage", "from": history[i], "to": history[i+1], "at": history[i+2]})
		}
		return r
	}
	// Alice: lead 2 days, qualified 3 days, then won (no closed_at): 5 days to close.
	deal(alice, "won", time.Time{}, "", "lead", t0, "lead", "qualified", t0.Add(2*day), "qualified", "won", t0.Add(5*day))
	// Alice: history starts later (imported in lead): lead 4 days, still in qualified.
	deal(alice, "qualified", time.Time{}, "lead", "qualified", t0.Add(4*day))
	// Bob: won with closed_at 10 days after creation; lead 1 day.
	deal(bob, "won", t0.Add(10*day), "lead", "won", t0.Add(day))

	got, err := e.svc.Cycle(insights.Caller(alice), insights.Query{Object: "deals"})
	if err != nil {
		t.Fatal(err)
	}
	if got.DaysToClose.Count != 1 || got.DaysToClose.Days != 5 {
		t.Errorf("alice's days to close = %+v; want 1 deal, 5 days", got.DaysToClose)
	}
	wantStays := map[string]insights.Average{"lead": {Count: 2, Days: 3}, "qualified": {Count: 1, Days: 3}}
	if len(got.TimeInStage) != len(wantStays) {
		t.Errorf("alice's time in stage = %+v; want %v", got.TimeInStage, wantStays)
	}
	for _, s := range got.TimeInStage {
		if w := wantStays[s.Stage]; s.Average != w {
			t.Errorf("alice's time in %s = %+v; want %+v", s.Stage, s.Average, w)
		}
	}

	got, err = e.svc.Cycle(insights.Caller(mgr), insights.Query{Object: "deals"})
	if err != nil {
		t.Fatal(err)
	}
	if got.DaysToClose.Count != 2 || got.DaysToClose.Days != 7.5 {
		t.Errorf("manager's days to close = %+v; want 2 deals averaging 7.5 days", got.DaysToClose)
	}
	for _, s := range got.TimeInStage {
		if s.Stage == "lead" && (s.Count != 3 || math.Abs(s.Days-7.0/3) > 1e-9) {
			t.Errorf("manager's time in lead = %+v; want 3 stays averaging 7/3 days", s.Average)
		}
	}

	// Bob's deal entered won at t0+1d; alice's qualified deal entered qualified at t0+4d.
	since, err := e.svc.StageSince(insights.Caller(alice), insights.Query{Object: "deals"}, recordIDs(t, e.app))
	if err != nil {
		t.Fatal(err)
	}
	if len(since) != 2 {
		t.Errorf("alice gets the stage time of %d deals; want her 2", len(since))
	}
	for _, ts := range since {
		if !ts.Equal(t0.Add(5*day)) && !ts.Equal(t0.Add(4*day)) {
			t.Errorf("stage since = %v; want t0+5d or t0+4d", ts)
		}
	}
}

func recordIDs(t *testing.T, app core.App) []string {
	t.Helper()
	recs, err := app.FindAllRecords("deals")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.Id
	}
	return ids
}

// TestTimeline: a record's timeline holds its activities, emails (not notices to users about
// it), stage changes and runs for anyone who may view the record, and nothing for anyone else.
func TestTimeline(t *testing.T) {
	e := newEnv(t, false)
	alice, _ := schemastest.NewUser(t, e.app, "alice@example.com", "sales", "north")
	carol, _ := schemastest.NewUser(t, e.app, "carol@example.com", "sales", "south")
	d := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Alice's deal", "stage": "lead", "owner": alice.Id})
	schemastest.MustCreate(t, e.app, "activities", map[string]any{"type": "call", "subject": "Intro call", "deal": d.Id, "owner": alice.Id})
	schemastest.MustCreate(t, e.app, "activities", map[string]any{"type": "note", "subject": "Carol's private note", "deal": d.Id, "owner": carol.Id})
	schemastest.MustCreate(t, e.app, "emails", map[string]any{"to": []string{"x@example.com"}, "subject": "Welcome", "status": "sent", "object": "deals", "record_id": d.Id})
	// a notification to the manager about the deal is not the deal's correspondence
	schemastest.MustCreate(t, e.app, "emails", map[string]any{"to": []string{"boss@example.com"}, "subject": "For the boss only", "status": "sent",
		"object": "deals", "record_id": d.Id, "notice": true})
	schemastest.MustCreate(t, e.app, "workflow_runs", map[string]any{"workflow_name": "deal-won-onboarding", "status": "failed", "error": "boom", "object": "deals", "record_id": d.Id})
	schemastest.MustCreate(t, e.app, insights.StageChangesCollection, map[string]any{"object": "deals", "record": d.Id, "field": "stage", "from": "", "to": "lead", "at": time.Now()})

	items, err := e.svc.Timeline(insights.Caller(alice), "deals", d.Id)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string][]string{}
	for _, it := range items {
		kinds[it.Kind] = append(kinds[it.Kind], it.Title)
	}
	want := map[string][]string{
		insights.KindActivity: {"Intro call"}, // carol's note is in another team: not alice's to read
		insights.KindEmail:    {"Welcome"},
		insights.KindRun:      {"deal-won-onboarding"},
		insights.KindStage:    {"Lead"},
		insights.KindCreated:  {"Created"},
	}
	for k, w := range want {
		if !slices.Equal(kinds[k], w) {
			t.Errorf("timeline %s = %v; want %v", k, kinds[k], w)
		}
	}
	if _, err := e.svc.Timeline(insights.Caller(carol), "deals", d.Id); !errors.Is(err, insights.ErrNotFound) {
		t.Errorf("carol's timeline of alice's deal: err = %v; want ErrNotFound", err)
	}
	if _, err := e.svc.Timeline(insights.Caller(nil), "deals", d.Id); !errors.Is(err, insights.ErrNotFound) {
		t.Errorf("anonymous timeline: err = %v; want ErrNotFound", err)
	}
}

// served is the default CRM model without records, served over HTTP.
func served(t *testing.T) (*core.BaseApp, *httptest.Server) {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	insights.MustRegister(app, insights.Config{Registry: reg})
	return app, schemastest.Serve(t, app)
}

// TestAPI drives the HTTP endpoints with real tokens.
func TestAPI(t *testing.T) {
	app, srv := served(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	bob, bobTok := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "A", "stage": "lead", "amount": 100, "owner": alice.Id})
	bobDeal := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "B", "stage": "proposal", "amount": 1000, "owner": bob.Id})

	var p insights.Pipeline
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/pipeline?object=deals", aliceTok, nil, &p); code != 200 || p.Open.Total != 100 || p.Open.Weighted != 10 {
		t.Errorf("alice's pipeline = %d %+v; want 200 with 100 (weighted 10)", code, p.Open)
	}
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/pipeline?object=deals", mgrTok, nil, &p); code != 200 || p.Open.Total != 1100 {
		t.Errorf("manager's pipeline = %d %+v; want 200 with 1100", code, p.Open)
	}
	var objs struct {
		Objects []schemas.Object `json:"objects"`
	}
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/objects", aliceTok, nil, &objs); code != 200 || len(objs.Objects) != 4 {
		t.Errorf("objects = %d with %d objects; want 200 with 4", code, len(objs.Objects))
	}
	var since struct {
		Since map[string]string `json:"since"`
	}
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/stage-since?object=deals&ids="+bobDeal.Id, aliceTok, nil, &since); code != 200 || len(since.Since) != 0 {
		t.Errorf("alice's stage-since of bob's deal = %d %v; want 200 and nothing", code, since.Since)
	}
	for _, c := range []struct {
		name, path, token string
		status            int
	}{
		{"anonymous pipeline", "/api/relata/insights/pipeline?object=deals", "", 401},
		{"anonymous objects", "/api/relata/objects", "", 401},
		{"unknown object", "/api/relata/insights/pipeline?object=nope", aliceTok, 400},
		{"object without pipeline", "/api/relata/insights/forecast?object=contacts", aliceTok, 400},
		{"another's timeline", "/api/relata/timeline/deals/" + bobDeal.Id, aliceTok, 404},
		{"own timeline", "/api/relata/timeline/deals/" + bobDeal.Id, bobTok, 200},
		{"manager's timeline", "/api/relata/timeline/deals/" + bobDeal.Id, mgrTok, 200},
		{"sources", "/api/relata/insights/sources?object=deals", bobTok, 200},
		{"cycle", "/api/relata/insights/cycle?object=deals", bobTok, 200},
		{"forecast", "/api/relata/insights/forecast?object=deals", bobTok, 200},
		{"one object", "/api/relata/objects/deals", bobTok, 200},
	} {
		if code := schemastest.Call(t, srv, http.MethodGet, c.path, c.token, nil, nil); code != c.status {
			t.Errorf("%s: %s = %d; want %d", c.name, c.path, code, c.status)
		}
	}
}

// TestTimelineRunErrorsOnlyForRunReaders: a failed run's error names the workflow's internals
// (here a webhook URL with its key, as action_webhook.go writes it). A sales rep who may view
// the record sees the run and its status on the timeline, never its error; managers, admins
// and superusers, who read run history, see it.
func TestTimelineRunErrorsOnlyForRunReaders(t *testing.T) {
	app, srv := served(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", "admin", "")
	d := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "A", "stage": "lead", "owner": alice.Id})
	const secret = "sk_live_0123456789"
	schemastest.MustCreate(t, app, "workflow_runs", map[string]any{"workflow_name": "crm-sync", "status": "failed",
		"error":  "step 0 (webhook): webhook POST https://hooks.example.com/T0/B0/" + secret + "?key=" + secret + " answered 500: internal",
		"object": "deals", "record_id": d.Id})
	schemastest.MustCreate(t, app, "workflow_runs", map[string]any{"workflow_name": "welcome", "status": "succeeded",
		"object": "deals", "record_id": d.Id})
	for _, c := range []struct {
		who, token string
		errors     bool
	}{
		{"sales rep owning the deal", aliceTok, false},
		{"manager", mgrTok, true},
		{"admin", adminTok, true},
		{"superuser", schemastest.SuperuserToken(t, app), true},
	} {
		var got struct {
			Items []insights.Entry `json:"items"`
		}
		if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/timeline/deals/"+d.Id, c.token, nil, &got); code != 200 {
			t.Fatalf("%s: %d", c.who, code)
		}
		runs := map[string]insights.Entry{}
		for _, it := range got.Items {
			if it.Kind == insights.KindRun {
				runs[it.Title] = it
			}
		}
		if len(runs) != 2 || runs["crm-sync"].Status != "failed" || runs["welcome"].Status != "succeeded" {
			t.Errorf("%s: runs %+v; want both runs with their status", c.who, runs)
		}
		if shown := strings.Contains(runs["crm-sync"].Error, secret); shown != c.errors {
			t.Errorf("%s: run error %q; shown %v, want %v", c.who, runs["crm-sync"].Error, shown, c.errors)
		}
	}
}

// TestBadParametersAre400NamingThem: every parameter a report does not understand is a 400
// whose message starts with the parameter's name, never a 500 or a message naming another.
func TestBadParametersAre400NamingThem(t *testing.T) {
	app, srv := served(t)
	_, tok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	many := strings.Repeat("x,", 501)
	for query, param := range map[string]string{
		"":                                     "object",
		"object=users":                         "object",
		"object=contacts":                      "object",
		"object=deals&field=name":              "field",
		"object=deals&field=nope":              "field",
		"object=deals&pipeline=nope":           "pipeline",
		"object=deals&field=stage&pipeline=x":  "pipeline",
		"object=deals&amount=name":             "amount",
		"object=deals&date=amount":             "date",
		"object=deals&by=contacts":             "by",
		"object=deals&closed=name":             "closed",
		"object=deals&at=2026-13-01":           "at",
		"object=companies&owner=x":             "object",
		"object=deals&ids=" + many:             "ids",
		"object=deals&at=" + many + "&ids=one": "at",
	} {
		for _, report := range []string{"pipeline", "forecast", "sources", "cycle", "stage-since"} {
			if param == "ids" && report != "stage-since" {
				continue
			}
			var got struct{ Message string }
			code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/"+report+"?"+query, tok, nil, &got)
			if code != 400 || !strings.HasPrefix(strings.ToLower(got.Message), param+":") {
				t.Errorf("%s?%.60s: %d %q; want 400 naming %s", report, query, code, got.Message, param)
			}
		}
	}
}

// TestCycleWonRecordsBesideHistory: the won records are read in id order beside the stage
// history; records with and without a history, won before or after the ones around them,
// each count once, with the last entry into a won stage where they have no closed date.
func TestCycleWonRecordsBesideHistory(t *testing.T) {
	e := newEnv(t, false)
	mgr, _ := schemastest.NewUser(t, e.app, "mgr@example.com", "manager", "")
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	coll, err := e.app.FindCollectionByNameOrId("deals")
	if err != nil {
		t.Fatal(err)
	}
	created, _ := types.ParseDateTime(t0)
	const n = 60
	var sum float64
	var count int
	for i := range n {
		k := (i * 37) % n // ids out of creation order
		r := core.NewRecord(coll)
		r.Id = fmt.Sprintf("d%014d", k)
		r.Set("name", r.Id)
		r.Set("owner", mgr.Id)
		r.Set("amount", 1000)
		r.SetRaw("created", created)
		var history [][3]any // from, to, at
		switch i % 5 {
		case 0: // won with a closed date, which counts over the history
			r.Set("stage", "won")
			r.Set("closed_at", t0.Add(time.Duration(i+1)*day))
			history = [][3]any{{"lead", "won", t0.Add(day / 2)}}
			sum, count = sum+float64(i+1), count+1
		case 1: // won twice, no closed date: the last entry counts
			r.Set("stage", "won")
			history = [][3]any{{"lead", "won", t0.Add(day)}, {"won", "lost", t0.Add(2 * day)}, {"lost", "won", t0.Add(time.Duration(i+3) * day)}}
			sum, count = sum+float64(i+3), count+1
		case 2: // won without a date or a history: left out
			r.Set("stage", "won")
		case 3: // won with a closed date, no history
			r.Set("stage", "won")
			r.Set("closed_at", t0.Add(time.Duration(2*i+1)*day))
			sum, count = sum+float64(2*i+1), count+1
		case 4: // was won, is not: left out
			r.Set("stage", "qualified")
			history = [][3]any{{"lead", "won", t0.Add(day)}, {"won", "qualified", t0.Add(3 * day)}}
		}
		if err := e.app.Save(r); err != nil {
			t.Fatal(err)
		}
		for _, h := range history {
			schemastest.MustCreate(t, e.app, insights.StageChangesCollection, map[string]any{
				"object": "deals", "record": r.Id, "field": "stage", "from": h[0], "to": h[1], "at": h[2]})
		}
	}
	for i := range 3 { // after the last record with a history
		r := core.NewRecord(coll)
		r.Id = fmt.Sprintf("z%014d", i)
		r.Set("name", r.Id)
		r.Set("owner", mgr.Id)
		r.Set("stage", "won")
		r.Set("closed_at", t0.Add(time.Duration(i+1)*day))
		r.SetRaw("created", created)
		if err := e.app.Save(r); err != nil {
			t.Fatal(err)
		}
		sum, count = sum+float64(i+1), count+1
	}
	got, err := e.svc.Cycle(insights.Caller(mgr), insights.Query{Object: "deals"})
	if err != nil {
		t.Fatal(err)
	}
	if got.DaysToClose.Count != count || math.Abs(got.DaysToClose.Days-sum/float64(count)) > 1e-9 {
		t.Errorf("days to close = %+v; want %d deals averaging %v days", got.DaysToClose, count, sum/float64(count))
	}
}
