package insights_test

import (
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/insights"
	"github.com/relata/relata/schemas/schemastest"
)

// TestExampleRates: the rates the other tests convert with are the latest of the seed file.
func TestExampleRates(t *testing.T) {
	f, err := os.Open("../../examples/sales/seed/" + schemas.RatesSeedFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rates, err := schemas.ParseRatesCSV(schemas.RatesSeedFile, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]schemas.Rate{}
	for _, r := range rates {
		if r.Effective > latest[r.Currency].Effective {
			latest[r.Currency] = r
		}
	}
	got := map[string]float64{"EUR": 1}
	for c, r := range latest {
		got[c] = r.Rate
	}
	if !reflect.DeepEqual(got, exampleRates) {
		t.Errorf("seed rates = %v; the tests assume %v", got, exampleRates)
	}
}

// TestExampleDashboardFigures: the manager's numbers on the example data, computed by hand
// from deals.json (open deals: EUR 1,022,900 + GBP 30,600 + USD 20,800; won: EUR 383,900 +
// GBP 68,800) and the latest example rates (GBP 1.17, USD 0.92).
func TestExampleDashboardFigures(t *testing.T) {
	e := newEnv(t, true)
	got, err := e.svc.Pipeline(insights.Caller(e.users["manager@example.com"]), insights.Query{Object: "deals"})
	if err != nil {
		t.Fatal(err)
	}
	wantOpen := 1022900 + 30600*1.17 + 20800*0.92 // 1,077,838
	if !near(got.Open.Total, wantOpen) || got.Open.Count != 65 {
		t.Errorf("open = %d deals, %v EUR; want 65, %v", got.Open.Count, got.Open.Total, wantOpen)
	}
	want := map[string]insights.Subtotal{"EUR": {Total: 1022900}, "GBP": {Total: 30600}, "USD": {Total: 20800}}
	for c, w := range want {
		if sub := got.Open.ByCurrency[c]; sub == nil || sub.Total != w.Total {
			t.Errorf("open %s subtotal = %+v; want %v", c, sub, w.Total)
		}
	}
	wantWon := 324400 + 68800*1.17 // 404,896
	if !near(got.Won.Total, wantWon) {
		t.Errorf("won = %v EUR; want %v", got.Won.Total, wantWon)
	}
}

// TestMixedCurrencies: totals of deals in EUR, GBP, USD and JPY (no rate), converted with
// the rates of the stated date; the figures are computed by hand.
func TestMixedCurrencies(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	insights.MustRegister(app, insights.Config{Registry: reg})
	srv := schemastest.Serve(t, app)
	mgr, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	rates, err := schemas.ParseRatesCSV("rates.csv", strings.NewReader(
		"currency,rate,effective\nGBP,1.25,2026-01-01\nUSD,0.8,2026-01-01\nGBP,1.5,2026-06-01\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := schemas.ImportRates(app, rates); err != nil {
		t.Fatal(err)
	}
	for _, d := range []map[string]any{
		{"name": "eur lead", "stage": "lead", "amount": 1000, "amount_currency": "EUR"},
		{"name": "no code lead", "stage": "lead", "amount": 100}, // the field's currency, EUR
		{"name": "gbp lead", "stage": "lead", "amount": 200, "amount_currency": "GBP"},
		{"name": "usd proposal", "stage": "proposal", "amount": 500, "amount_currency": "USD"},
		{"name": "jpy proposal", "stage": "proposal", "amount": 100000, "amount_currency": "JPY"},
		{"name": "gbp won", "stage": "won", "amount": 40, "amount_currency": "GBP", "source": "referral"},
	} {
		d["owner"] = mgr.Id
		schemastest.MustCreate(t, app, "deals", d)
	}
	for _, c := range []struct {
		at                        string
		open, weighted, won, lead float64
		missing                   []string
	}{
		// lead: 1000 + 100 + 200×1.25 = 1350; proposal: 500×0.8 = 400 (JPY has no rate)
		{"2026-03-01", 1750, 1350*0.10 + 400*0.5, 40 * 1.25, 1350, []string{"JPY"}},
		// GBP at 1.5 from June: lead 1000 + 100 + 300 = 1400
		{"2026-07-01", 1800, 1400*0.10 + 400*0.5, 40 * 1.5, 1400, []string{"JPY"}},
		// before any rate: only EUR counts
		{"2025-12-31", 1100, 1100 * 0.10, 0, 1100, []string{"GBP", "JPY", "USD"}},
	} {
		var p insights.Pipeline
		if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/pipeline?object=deals&at="+c.at, mgrTok, nil, &p); code != 200 {
			t.Fatalf("pipeline at %s = %d", c.at, code)
		}
		if p.Open.Total != c.open || !near(p.Open.Weighted, c.weighted) || p.Won.Total != c.won || p.Stages[0].Total != c.lead {
			t.Errorf("at %s: open %v (weighted %v), won %v, lead %v; want %v (%v), %v, %v",
				c.at, p.Open.Total, p.Open.Weighted, p.Won.Total, p.Stages[0].Total, c.open, c.weighted, c.won, c.lead)
		}
		if p.Currency != "EUR" || p.RatesDate != c.at || !reflect.DeepEqual(p.MissingRates, c.missing) {
			t.Errorf("at %s: conversion %+v; want EUR at %s, missing %v", c.at, p.Conversion, c.at, c.missing)
		}
		if p.Open.Count != 5 || p.Open.Unconverted != unconverted(c.missing) {
			t.Errorf("at %s: open count %d, unconverted %d", c.at, p.Open.Count, p.Open.Unconverted)
		}
		if jpy := p.Open.ByCurrency["JPY"]; jpy == nil || jpy.Total != 100000 || jpy.Count != 1 {
			t.Errorf("at %s: JPY subtotal = %+v; want 1 deal of 100000", c.at, jpy)
		}
		if eur := p.Open.ByCurrency["EUR"]; eur == nil || eur.Total != 1100 || eur.Count != 2 {
			t.Errorf("at %s: EUR subtotal = %+v; want 2 deals, 1100", c.at, eur)
		}
		var src insights.Sources
		if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/sources?object=deals&at="+c.at, mgrTok, nil, &src); code != 200 {
			t.Fatalf("sources at %s = %d", c.at, code)
		}
		for _, s := range src.Sources {
			if s.Value == "referral" && s.WonAmount != c.won {
				t.Errorf("at %s: referral won amount = %v; want %v", c.at, s.WonAmount, c.won)
			}
		}
	}
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/pipeline?object=deals&at=yesterday", mgrTok, nil, nil); code != 400 {
		t.Errorf("at=yesterday: %d; want 400", code)
	}
	// A new base currency: totals are in it, and EUR now needs a rate.
	if err := schemas.SetBaseCurrency(app, "GBP"); err != nil {
		t.Fatal(err)
	}
	var p insights.Pipeline
	schemastest.Call(t, srv, http.MethodGet, "/api/relata/insights/pipeline?object=deals&at=2026-03-01", mgrTok, nil, &p)
	if p.Currency != "GBP" || p.Open.Total != 200 || !reflect.DeepEqual(p.MissingRates, []string{"EUR", "JPY", "USD"}) {
		t.Errorf("with base GBP: %v %v, missing %v; want GBP 200, missing EUR JPY USD", p.Currency, p.Open.Total, p.MissingRates)
	}
}

// unconverted counts the open deals of the test above whose currency is missing.
func unconverted(missing []string) int {
	n := 0
	for _, c := range missing {
		switch c {
		case "JPY", "USD":
			n++
		case "GBP":
			n++ // the GBP lead (the won one is not open)
		}
	}
	return n
}

// TestManyDealsInThreeCurrencies: 1,200 open deals, amounts 1..1200 cycling EUR, GBP, USD,
// converted with GBP 1.25 and USD 0.8: the totals are the sums of each currency's amounts
// times its rate, to the cent.
func TestManyDealsInThreeCurrencies(t *testing.T) {
	const n = 1200
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	svc := insights.MustRegister(app, insights.Config{Registry: reg})
	mgr, _ := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	rates, _ := schemas.ParseRatesCSV("r.csv", strings.NewReader("currency,rate,effective\nGBP,1.25,2026-01-01\nUSD,0.8,2026-01-01\n"), time.Now())
	if _, _, err := schemas.ImportRates(app, rates); err != nil {
		t.Fatal(err)
	}
	codes := []string{"EUR", "GBP", "USD"}
	sums := map[string]float64{}
	err := app.RunInTransaction(func(tx core.App) error {
		coll, err := tx.FindCollectionByNameOrId("deals")
		if err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			code := codes[i%3]
			rec := core.NewRecord(coll)
			rec.Load(map[string]any{"name": "D", "stage": "proposal", "amount": i, "amount_currency": code, "owner": mgr.Id})
			if err := tx.Save(rec); err != nil {
				return err
			}
			sums[code] += float64(i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Pipeline(insights.Caller(mgr), insights.Query{Object: "deals", At: "2026-06-01"})
	if err != nil {
		t.Fatal(err)
	}
	want := sums["EUR"] + sums["GBP"]*1.25 + sums["USD"]*0.8
	if p.Open.Count != n || p.Open.Total != want || p.Open.Weighted != want/2 {
		t.Errorf("open = %d deals, %v (weighted %v); want %d, %v (%v)", p.Open.Count, p.Open.Total, p.Open.Weighted, n, want, want/2)
	}
	for _, c := range codes {
		if sub := p.Open.ByCurrency[c]; sub == nil || sub.Total != sums[c] || sub.Count != n/3 {
			t.Errorf("%s subtotal = %+v; want %d deals, %v", c, sub, n/3, sums[c])
		}
	}
}
