package scoring_test

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// teamScopedRegistry is the default CRM model with deals in scope "team" (a sales rep lists
// the deals owned by anyone in her team: a rule with a join on users), applied to app with
// testdata/leakage seeded and its two deals removed.
func teamScopedRegistry(tb testing.TB, app core.App) *schemas.Registry {
	tb.Helper()
	dir := tb.TempDir()
	err := fs.WalkDir(schemas.Defaults(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schemas.Defaults(), path)
		if err != nil {
			return err
		}
		if path == "deals.json" {
			s := string(b)
			if !strings.Contains(s, `"scope": "owner"`) {
				return fmt.Errorf("deals.json has no owner scope to widen")
			}
			b = []byte(strings.Replace(s, `"scope": "owner"`, `"scope": "team"`, 1))
		}
		return os.WriteFile(filepath.Join(dir, path), b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: dir})
	if err := reg.Sync(); err != nil {
		tb.Fatal(err)
	}
	if err := reg.SeedFrom(io.Discard, "testdata/leakage"); err != nil {
		tb.Fatal(err)
	}
	if _, err := app.DB().NewQuery("DELETE FROM deals").Execute(); err != nil {
		tb.Fatal(err)
	}
	return reg
}

// fcExpect is a forecast computed by the test itself from the deals it made.
type fcExpect struct {
	months, reps, teams map[string]*scoring.Amounts
	total               scoring.Amounts
	quotas              map[string]*[3]float64 // by id: won, stage, model
	outside, unconv     int
}

func (e *fcExpect) group(m map[string]*scoring.Amounts, k string) *scoring.Amounts {
	if m[k] == nil {
		m[k] = &scoring.Amounts{}
	}
	return m[k]
}

func (e *fcExpect) add(a *scoring.Amounts, amount, p float64) {
	a.Count++
	a.Total += amount
	a.Stage += amount * p
	a.Model += amount * p
	if p >= scoring.CommitAt {
		a.Commit += amount
	}
	if p >= scoring.BestCaseAt {
		a.BestCase += amount
	}
}

// got is the report in the shape of fcExpect, rounded as the report is.
func (e *fcExpect) matches(t *testing.T, who string, fc *scoring.ForecastReport) {
	t.Helper()
	round := func(a scoring.Amounts) scoring.Amounts {
		for _, v := range []*float64{&a.Total, &a.Stage, &a.Model, &a.Commit, &a.BestCase, &a.Won} {
			*v = schemas.RoundMoney(*v)
		}
		return a
	}
	want := map[string]scoring.Amounts{"total": round(e.total)}
	got := map[string]scoring.Amounts{"total": fc.Total}
	for k, a := range e.months {
		want["month "+k] = round(*a)
	}
	for k, a := range e.reps {
		want["rep "+k] = round(*a)
	}
	for k, a := range e.teams {
		want["team "+k] = round(*a)
	}
	for _, m := range fc.Months {
		got["month "+m.Month] = m.Amounts
	}
	for _, g := range fc.Reps {
		got["rep "+g.Key] = g.Amounts
	}
	for _, g := range fc.Teams {
		got["team "+g.Key] = g.Amounts
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if got[k] != want[k] {
				t.Errorf("%s: %s = %+v; want %+v", who, k, got[k], want[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: unexpected %s = %+v", who, k, got[k])
			}
		}
	}
	if fc.Outside != e.outside || fc.Unconverted != e.unconv {
		t.Errorf("%s: outside %d, unconverted %d; want %d, %d", who, fc.Outside, fc.Unconverted, e.outside, e.unconv)
	}
	if len(fc.Quotas) != len(e.quotas) {
		t.Errorf("%s: %d quotas; want %d", who, len(fc.Quotas), len(e.quotas))
	}
	for _, q := range fc.Quotas {
		w := e.quotas[q.ID]
		if w == nil || q.Won != schemas.RoundMoney(w[0]) || q.Stage != schemas.RoundMoney(w[1]) || q.Model != schemas.RoundMoney(w[2]) {
			t.Errorf("%s: quota %s won %v stage %v model %v; want %v", who, q.ID, q.Won, q.Stage, q.Model, w)
		}
	}
}

type fcQuota struct {
	id, user, team string
	start, end     time.Time
}

// pagedForecastFixture makes n deals (owners in two teams, one without a team and none;
// every stage; EUR, USD, GBP and JPY, which has no rate; due before, in and after the window
// or never; won before and in the window; some in the renewals pipeline) and three quotas,
// and returns the forecasts the manager and alice (sales, team north: scope "team") must get
// over 6 months from now.
func pagedForecastFixture(t *testing.T, n int) (app *core.BaseApp, svc *scoring.Service, mgr, alice *core.Record, mgrTok string, now time.Time, wantMgr, wantAlice *fcExpect) {
	t.Helper()
	app = schemastest.OpenApp(t, t.TempDir())
	reg := teamScopedRegistry(t, app)
	svc = scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	mgr, mgrTok = schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	alice, _ = schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", schemas.RoleSales, "north")
	carol, _ := schemastest.NewUser(t, app, "carol@example.com", schemas.RoleSales, "south")
	dave, _ := schemastest.NewUser(t, app, "dave@example.com", schemas.RoleSales, "")
	schemastest.MustCreate(t, app, "exchange_rates", map[string]any{"currency": "GBP", "base": "EUR", "rate": 1.25, "effective": time.Now().AddDate(0, 0, -30)})
	rate := map[string]float64{"EUR": 1, "USD": 0.9, "GBP": 1.25}
	prob := map[string]float64{"lead": 0.1, "qualified": 0.25, "proposal": 0.5, "negotiation": 0.75}

	now = time.Now().UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 6, 0)
	quarter := time.Date(now.Year(), ((now.Month()-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC)
	quotas := []fcQuota{
		{user: alice.Id, start: start, end: start.AddDate(0, 1, 0)},
		{team: "north", start: quarter, end: quarter.AddDate(0, 3, 0)},
		{user: carol.Id, start: start.AddDate(0, 1, 0), end: start.AddDate(0, 2, 0)},
	}
	for i := range quotas {
		q := &quotas[i]
		period := "month"
		if q.team != "" {
			period = "quarter"
		}
		q.id = schemastest.MustCreate(t, app, schemas.QuotasCollection, map[string]any{"user": q.user, "team": q.team,
			"period": period, "start": q.start, "amount": 1000 * (i + 1), "currency": []string{"USD", "EUR", "GBP"}[i]}).Id
	}
	from := start
	if quarter.Before(start) {
		from = quarter
	}
	wantMgr, wantAlice = newExpect(start, end, quotas), newExpect(start, end, quotas)

	owners := []*core.Record{alice, bob, carol, dave, nil}
	stages := []string{"lead", "qualified", "proposal", "negotiation", "won", "lost"}
	stamp := types.NowDateTime().String()
	cols := []string{"name", "owner", "stage", "amount", "amount_currency", "expected_close", "closed_at", "pipeline", "created", "updated"}
	rows := make([][]any, 0, n)
	{
		for i := range n {
			owner, team := "", ""
			if o := owners[i%5]; o != nil {
				owner, team = o.Id, o.GetString("team")
			}
			stage := stages[i%6]
			currency := []string{"EUR", "USD", "GBP"}[(i/2)%3]
			if i%13 == 0 {
				currency = "JPY"
			}
			amount := float64(100 * (1 + (i*37)%97))
			var due, closed time.Time
			dueAt, closedAt, pipeline, stored := "", "", "", stage
			if i%17 != 0 {
				due = start.AddDate(0, (i/7)%10-3, 9)
				dueAt = due.Format(types.DefaultDateLayout)
			}
			if stage == "won" || stage == "lost" {
				closed = start.AddDate(0, -(i % 4), i%27).Add(time.Hour)
				closedAt = closed.Format(types.DefaultDateLayout)
			}
			renewal := i%19 == 0
			switch {
			case renewal:
				pipeline, stored = "renewals", "renewal_due"
			case i%23 == 0:
				pipeline = "sales"
			}
			rows = append(rows, []any{fmt.Sprintf("deal %d", i), owner, stored, amount, currency, dueAt, closedAt, pipeline, stamp, stamp})

			if renewal || stage == "lost" || stage == "won" && closed.Before(from) {
				continue // not read
			}
			for _, e := range []*fcExpect{wantMgr, wantAlice} {
				if e == wantAlice && team != "north" {
					continue
				}
				if currency == "JPY" {
					e.unconv++
					continue
				}
				amt := amount * rate[currency]
				if stage == "won" {
					if !closed.Before(start) && closed.Before(end) {
						e.group(e.months, closed.Format("2006-01")).Won += amt
						e.group(e.reps, owner).Won += amt
						e.group(e.teams, team).Won += amt
						e.total.Won += amt
					}
					for _, q := range quotas {
						if covers(q, owner, team) && !closed.Before(q.start) && closed.Before(q.end) {
							e.quotas[q.id][0] += amt
						}
					}
					continue
				}
				if due.IsZero() || !due.Before(end) {
					e.outside++
					continue
				}
				if due.Before(start) {
					due = start
				}
				p := prob[stage]
				e.add(e.group(e.months, due.Format("2006-01")), amt, p)
				e.add(e.group(e.reps, owner), amt, p)
				e.add(e.group(e.teams, team), amt, p)
				e.add(&e.total, amt, p)
				for _, q := range quotas {
					if covers(q, owner, team) && !due.Before(q.start) && due.Before(q.end) {
						e.quotas[q.id][1] += amt * p
						e.quotas[q.id][2] += amt * p
					}
				}
			}
		}
	}
	// In bulk, as an import would: saving 1,100 records one by one is most of a test's time.
	if err := app.RunInTransaction(func(tx core.App) error { return schemas.InsertMany(tx, "deals", cols, rows) }); err != nil {
		t.Fatal(err)
	}
	return app, svc, mgr, alice, mgrTok, now, wantMgr, wantAlice
}

func newExpect(start, end time.Time, quotas []fcQuota) *fcExpect {
	e := &fcExpect{months: map[string]*scoring.Amounts{}, reps: map[string]*scoring.Amounts{}, teams: map[string]*scoring.Amounts{}, quotas: map[string]*[3]float64{}}
	for m := start; m.Before(end); m = m.AddDate(0, 1, 0) {
		e.months[m.Format("2006-01")] = &scoring.Amounts{}
	}
	for _, q := range quotas {
		e.quotas[q.id] = &[3]float64{}
	}
	return e
}

func covers(q fcQuota, owner, team string) bool {
	if q.user != "" {
		return owner != "" && q.user == owner
	}
	return team != "" && q.team == team
}

// TestForecastOverManyDeals: over 1,103 deals the forecast of the manager (every deal) and of
// a rep who lists only her team's (a rule joining the owners) is what the test computes from
// the deals it made — by month, rep, team and quota, converted from USD and GBP, JPY left out
// — through the API and the service alike, and the same whether the deals are read 1, 7,
// 1,000 (the default) or 5,000 at a time: pages split the deals at awkward places (a page
// of 1,000 leaves 103; alice's 7 end mid-owner), and every split gives the same report, to
// the label.
func TestForecastOverManyDeals(t *testing.T) {
	t.Parallel()
	app, svc, mgr, alice, mgrTok, now, wantMgr, wantAlice := pagedForecastFixture(t, 1103)
	opts := scoring.ForecastOptions{Months: 6, Now: now}
	for _, c := range []struct {
		who   string
		user  *core.Record
		want  *fcExpect
		pages []int
	}{{"manager", mgr, wantMgr, []int{1000, 5000}}, {"alice", alice, wantAlice, []int{1, 7, 1000}}} {
		fc, err := svc.Forecast(app, schemas.User(c.user), "deals", opts)
		if err != nil {
			t.Fatalf("%s: %v", c.who, err)
		}
		c.want.matches(t, c.who, fc)
		whole, _ := json.Marshal(fc)
		for _, page := range c.pages {
			paged, err := svc.ForecastPaged(app, schemas.User(c.user), "deals", opts, page)
			if err != nil {
				t.Fatalf("%s, %d at a time: %v", c.who, page, err)
			}
			if got, _ := json.Marshal(paged); string(got) != string(whole) {
				t.Errorf("%s, %d at a time:\n%s\nwant\n%s", c.who, page, got, whole)
			}
		}
	}
	srv := schemastest.Serve(t, app)
	var fc scoring.ForecastReport
	if code := schemastest.Call(t, srv, "GET", "/api/relata/forecast/deals?months=6", mgrTok, nil, &fc); code != 200 {
		t.Fatalf("manager over HTTP: %d", code)
	}
	wantMgr.matches(t, "manager over HTTP", &fc)
}
