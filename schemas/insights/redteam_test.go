package insights_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/insights"
	"github.com/relata/relata/schemas/schemastest"
)

// get sends a GET with token and returns the status and the raw body.
func get(t *testing.T, srvURL, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srvURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestHiddenFieldsStayHidden: fields an operator hid in the collection (PocketBase's hidden
// flag: read, filtered and sorted by superusers only) are not summed, grouped, forecast,
// filtered by or shown on a timeline for any CRM user — a rep naming one as amount, by,
// date or closed gets a 400 naming the parameter, as for a field that does not exist, and the
// defaults pass over them; superusers still report on them.
func TestHiddenFieldsStayHidden(t *testing.T) {
	app, srv := served(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	suTok := schemastest.SuperuserToken(t, app)
	closeAt := time.Date(2031, 7, 14, 0, 0, 0, 0, time.UTC)
	d := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Quiet deal", "stage": "won", "owner": alice.Id,
		"amount": 987654.32, "amount_currency": "EUR", "expected_close": closeAt, "closed_at": closeAt, "source": "partner",
		"lost_reason": "zq-hidden-reason"})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "note", "subject": "Visible subject",
		"body": "zq-hidden-body", "deal": d.Id, "owner": alice.Id})
	for coll, fields := range map[string][]string{
		"deals":      {"amount", "expected_close", "closed_at", "source", "lost_reason", "owner"},
		"activities": {"body"},
	} {
		c, err := app.FindCollectionByNameOrId(coll)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			c.Fields.GetByName(f).SetHidden(true)
		}
		if err := app.Save(c); err != nil {
			t.Fatal(err)
		}
	}
	secrets := []string{"987654", "2031-07", "partner", "zq-hidden"}
	for _, tok := range []string{aliceTok, mgrTok} {
		for path, param := range map[string]string{
			"pipeline?object=deals&amount=amount":       "amount",
			"sources?object=deals&by=source":            "by",
			"sources?object=deals&by=lost_reason":       "by",
			"forecast?object=deals&date=expected_close": "date",
			"forecast?object=deals&date=closed_at":      "date",
			"cycle?object=deals&closed=closed_at":       "closed",
			"pipeline?object=deals&owner=" + alice.Id:   "owner",
			"pipeline?object=deals&team=north":          "team",
		} {
			code, body := get(t, srv.URL, "/api/relata/insights/"+path, tok)
			if code != 400 || !strings.Contains(strings.ToLower(body), `"message":"`+param+":") {
				t.Errorf("%s: %d %s; want 400 naming %s", path, code, body, param)
			}
		}
		for _, path := range []string{
			"/api/relata/insights/pipeline?object=deals",
			"/api/relata/insights/forecast?object=deals",
			"/api/relata/insights/sources?object=deals",
			"/api/relata/insights/cycle?object=deals",
			"/api/relata/timeline/deals/" + d.Id,
		} {
			code, body := get(t, srv.URL, path, tok)
			if code != 200 {
				t.Errorf("%s: %d %s; want 200", path, code, body)
			}
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("%s tells the hidden %q: %s", path, s, body)
				}
			}
		}
	}
	// a hidden stage field: no report, no history on the timeline
	schemastest.MustCreate(t, app, insights.StageChangesCollection, map[string]any{"object": "deals", "record": d.Id, "field": "stage", "from": "lead", "to": "won", "at": closeAt})
	deals, err := app.FindCollectionByNameOrId("deals")
	if err != nil {
		t.Fatal(err)
	}
	deals.Fields.GetByName("stage").SetHidden(true)
	if err := app.Save(deals); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{aliceTok, mgrTok} {
		for _, path := range []string{"pipeline?object=deals", "pipeline?object=deals&field=stage", "stage-since?object=deals&ids=" + d.Id} {
			if code, body := get(t, srv.URL, "/api/relata/insights/"+path, tok); code != 400 {
				t.Errorf("%s with the stage hidden: %d %s; want 400", path, code, body)
			}
		}
		if code, body := get(t, srv.URL, "/api/relata/timeline/deals/"+d.Id, tok); code != 200 || strings.Contains(body, `"kind":"stage"`) {
			t.Errorf("timeline with the stage hidden: %d %s; want 200 without stage changes", code, body)
		}
	}
	// superusers read hidden fields, in reports as in the REST API
	code, body := get(t, srv.URL, "/api/relata/insights/pipeline?object=deals&amount=amount", suTok)
	if code != 200 || !strings.Contains(body, "987654.32") {
		t.Errorf("superuser's pipeline by a hidden amount: %d %s", code, body)
	}
	code, body = get(t, srv.URL, "/api/relata/timeline/deals/"+d.Id, suTok)
	if code != 200 || !strings.Contains(body, "zq-hidden-body") || !strings.Contains(body, `"kind":"stage"`) {
		t.Errorf("superuser's timeline: %d %s", code, body)
	}
}

// insertDeals stores n deals of owner straight in SQL (the volume, not the hooks, is under
// test): "name i" for i in 1..n, stage, amounts 1..n in EUR.
// closeDate is the SQL of deal i's expected close date (” for none).
func insertDeals(t *testing.T, app core.App, owner, prefix string, n int, stage, closeDate string) {
	t.Helper()
	q := fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d)
INSERT INTO deals (id, name, stage, owner, amount, amount_currency, expected_close, created, updated)
SELECT printf('%s%%014d', i), 'name '||i, {:stage}, {:owner}, i, 'EUR', %s,
	strftime('%%Y-%%m-%%d %%H:%%M:%%fZ','now','-30 days'), strftime('%%Y-%%m-%%d %%H:%%M:%%fZ','now') FROM n`, n, prefix, closeDate)
	if _, err := app.DB().NewQuery(q).Bind(dbx.Params{"owner": owner, "stage": stage}).Execute(); err != nil {
		t.Fatal(err)
	}
}

// allocated runs f and returns the bytes the process allocated meanwhile (server and client).
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestSourcesGroupsAreBounded: grouping the sources report by a free text field (by=name) gave
// one group per record — every name in scope in one unpaged answer (a rep with 100,000 deals:
// 5 s and 300 MB per request). At most MaxGroups values now; more is a 400 naming by.
func TestSourcesGroupsAreBounded(t *testing.T) {
	app, srv := served(t)
	alice, tok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	insertDeals(t, app, alice.Id, "a", insights.MaxGroups, "lead", "''")
	var got insights.Sources
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/sources?object=deals&by=name", tok, nil, &got); code != 200 || len(got.Sources) != insights.MaxGroups {
		t.Fatalf("%d names: %d with %d sources; want 200 with every name", insights.MaxGroups, code, len(got.Sources))
	}
	insertDeals(t, app, alice.Id, "b", 10*insights.MaxGroups+1, "won", "''")
	var code int
	var body string
	n := allocated(func() { code, body = get(t, srv.URL, "/api/relata/insights/sources?object=deals&by=name", tok) })
	t.Logf("sources by name over %d deals: %d, %d KB allocated", 11*insights.MaxGroups+1, code, n>>10)
	if code != 400 || !strings.HasPrefix(strings.ToLower(body), `{"data":{},"message":"by:`) {
		t.Errorf("%d distinct names: %d %.200s; want 400 naming by", 10*insights.MaxGroups+1, code, body)
	}
	// a select field has a few values whatever the number of records
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/sources?object=deals&by=source", tok, nil, &got); code != 200 || len(got.Sources) != 1 || got.Sources[0].Count != 11*insights.MaxGroups+1 {
		t.Errorf("by source: %d %+v; want one group of every deal", code, got.Sources)
	}
}

// TestForecastMonthsAreBounded: the forecast had a month per distinct close month of the open
// records, unbounded: a rep whose deals close a month apart over centuries made every
// forecast that counts them (hers, her managers') as large as her deals (100,000 deals: 5 s
// and 300 MB per request). It keeps the MaxGroups months nearest this one, and sums the rest
// in otherMonths; the rep's far-away months do not push a colleague's deals of this month out
// of her manager's forecast.
func TestForecastMonthsAreBounded(t *testing.T) {
	app, srv := served(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	const n = 10*insights.MaxGroups + 1
	insertDeals(t, app, alice.Id, "a", n, "lead", "printf('%04d-%02d-01 00:00:00.000Z', 3000 + i / 12, 1 + i % 12)")
	now := time.Now().UTC()
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Bob's", "stage": "proposal", "owner": bob.Id, "amount": 500, "expected_close": now})
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Bob's undated", "stage": "lead", "owner": bob.Id, "amount": 7})
	for _, c := range []struct {
		who, tok string
		count    int // open deals the caller may list
	}{{"alice", aliceTok, n}, {"manager", mgrTok, n + 2}} {
		var got insights.Forecast
		var code int
		bytes := allocated(func() {
			code = schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/forecast?object=deals", c.tok, nil, &got)
		})
		t.Logf("%s's forecast over %d deals in %d months: %d months, %d KB allocated", c.who, c.count, n, len(got.Months), bytes>>10)
		if code != 200 || len(got.Months) > insights.MaxGroups+1 {
			t.Fatalf("%s: %d with %d months; want 200 with at most %d", c.who, code, len(got.Months), insights.MaxGroups+1)
		}
		count := 0
		for _, m := range got.Months {
			count += m.Count
		}
		if got.OtherMonths == nil || count+got.OtherMonths.Count != c.count {
			t.Errorf("%s: %d deals in months + %+v in other months; want %d in all", c.who, count, got.OtherMonths, c.count)
		}
		if c.who != "manager" {
			continue
		}
		this := now.Format("2006-01")
		i := slices.IndexFunc(got.Months, func(m insights.Month) bool { return m.Month == this })
		if i < 0 || got.Months[i].Total != 500 || got.Months[len(got.Months)-1].Month != "" || got.Months[len(got.Months)-1].Total != 7 {
			t.Errorf("manager: this month (%s) and the undated deal are not both kept: %+v ... %+v", this, got.Months[:2], got.Months[len(got.Months)-1])
		}
	}
}

// TestMadeUpCurrenciesAreBounded: any three capital letters are a valid currency code, and
// every report listed each one with a subtotal per stage, per month and in missingRates — a
// rep's deals in 1,000 made-up codes over 10 months gave her manager's forecast 10,000
// subtotals. At most MaxUnratedCurrencies codes without a rate are listed; the records of
// the others are counted (and unconverted) all the same.
func TestMadeUpCurrenciesAreBounded(t *testing.T) {
	app, srv := served(t)
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	const n, codes = 10*insights.MaxGroups + 1, 1000
	insertDeals(t, app, alice.Id, "a", n, "lead", "printf('2026-%02d-01 00:00:00.000Z', 1 + i % 10)")
	// codes QAA… and XAA…: none has a rate
	if _, err := app.DB().NewQuery(`UPDATE deals SET amount_currency = char(CASE WHEN (CAST(substr(id, 2) AS INTEGER) % {:codes}) < 676 THEN 81 ELSE 88 END,
		65 + ((CAST(substr(id, 2) AS INTEGER) % {:codes}) % 676) / 26, 65 + (CAST(substr(id, 2) AS INTEGER) % {:codes}) % 26)`).
		Bind(dbx.Params{"codes": codes}).Execute(); err != nil {
		t.Fatal(err)
	}
	var distinct int
	if err := app.DB().NewQuery("SELECT COUNT(DISTINCT amount_currency) FROM deals").Row(&distinct); err != nil || distinct != codes {
		t.Fatalf("%d codes, %v; want %d", distinct, err, codes)
	}
	check := func(report string, c insights.Conversion, totals []insights.Totals) {
		t.Helper()
		count, unconverted := 0, 0
		for _, tt := range totals {
			count += tt.Count
			unconverted += tt.Unconverted
			if len(tt.ByCurrency) > insights.MaxUnratedCurrencies {
				t.Errorf("%s: a total lists %d currencies; want at most %d", report, len(tt.ByCurrency), insights.MaxUnratedCurrencies)
				break
			}
		}
		if count != n || unconverted != n {
			t.Errorf("%s: %d deals, %d unconverted; want %d of each", report, count, unconverted, n)
		}
		if len(c.MissingRates) != insights.MaxUnratedCurrencies || c.MoreMissingRates != codes-insights.MaxUnratedCurrencies {
			t.Errorf("%s: %d missing rates listed and %d more; want %d and %d", report, len(c.MissingRates), c.MoreMissingRates, insights.MaxUnratedCurrencies, codes-insights.MaxUnratedCurrencies)
		}
	}
	var p insights.Pipeline
	var code int
	b := allocated(func() {
		code = schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/pipeline?object=deals", mgrTok, nil, &p)
	})
	t.Logf("pipeline over %d deals in %d currencies: %d, %d KB allocated", n, codes, code, b>>10)
	var stages []insights.Totals
	for _, s := range p.Stages {
		stages = append(stages, s.Totals)
	}
	check("pipeline", p.Conversion, append(stages, p.Other))
	var f insights.Forecast
	b = allocated(func() {
		code = schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/forecast?object=deals", mgrTok, nil, &f)
	})
	t.Logf("forecast over %d deals in %d currencies and 10 months: %d, %d KB allocated", n, codes, code, b>>10)
	var months []insights.Totals
	for _, m := range f.Months {
		months = append(months, m.Totals)
	}
	check("forecast", f.Conversion, months)
}
