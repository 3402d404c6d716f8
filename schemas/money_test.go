package schemas_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

var rateNow = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func TestParseRatesCSV(t *testing.T) {
	for _, c := range []struct {
		name, csv string
		want      []schemas.Rate
		err       string // a substring of the located error
	}{
		{"plain", "currency,rate,effective\nGBP,1.17,2026-12-01\nUSD,0.92,2026-12-01\n",
			[]schemas.Rate{{Currency: "GBP", Rate: 1.17, Effective: "2026-12-01"}, {Currency: "USD", Rate: 0.92, Effective: "2026-12-01"}}, ""},
		{"columns in any order, extra ones, BOM, lower case code, relative date",
			"\ufeffEffective,source,Rate,Currency\ntoday-2d,ECB,1.5,gbp\n",
			[]schemas.Rate{{Currency: "GBP", Rate: 1.5, Effective: "2026-12-01"}}, ""},
		{"blank lines skipped", "currency,rate,effective\n\nGBP,2,2026-01-01\n\n",
			[]schemas.Rate{{Currency: "GBP", Rate: 2, Effective: "2026-01-01"}}, ""},
		{"empty file", "", nil, "rates.csv: empty file"},
		{"missing column", "currency,effective\nGBP,2026-01-01\n", nil, `rates.csv:1: the header has no "rate" column`},
		{"bad code", "currency,rate,effective\nGBP,1,2026-01-01\nEURO,1,2026-01-01\n", nil, `rates.csv:3: column 1 (currency): "EURO" is not a 3-letter`},
		{"comma decimal", "currency,rate,effective\nGBP,\"1,17\",2026-01-01\n", nil, `rates.csv:2: column 2 (rate): "1,17" is not a number`},
		{"zero rate", "currency,rate,effective\nGBP,0,2026-01-01\n", nil, "rates.csv:2: column 2 (rate): 0 must be a positive number"},
		{"negative rate", "currency,rate,effective\nGBP,-1,2026-01-01\n", nil, "must be a positive number"},
		{"NaN rate", "currency,rate,effective\nGBP,NaN,2026-01-01\n", nil, "must be a positive number"},
		{"bad date", "currency,rate,effective\nGBP,1,01/12/2026\n", nil, `rates.csv:2: column 3 (effective): "01/12/2026" is not a date`},
		{"short row", "currency,rate,effective\nGBP,1\n", nil, "rates.csv:2: column 3 (effective): missing"},
		{"duplicate", "currency,rate,effective\nGBP,1,2026-01-01\nUSD,1,2026-01-01\nGBP,2,2026-01-01\n", nil, "rates.csv:4: column 3 (effective): a second rate of GBP effective 2026-01-01 (the first is on line 2)"},
		{"bad quote", "currency,rate,effective\n\"GBP,1,2026-01-01\n", nil, "rates.csv:"},
		{"duplicate header", "currency,rate,rate,effective\n", nil, `rates.csv:1: column 3: "rate" appears twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := schemas.ParseRatesCSV("rates.csv", strings.NewReader(c.csv), rateNow)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v; want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %+v; want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("rate %d = %+v; want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestRatesEffectiveDates: the rate of a date is the latest effective on or before it; a
// re-import replaces the rate of the same day; the base currency needs no rate.
func TestRatesEffectiveDates(t *testing.T) {
	app := openApp(t, t.TempDir())
	if base, err := schemas.BaseCurrency(app); err != nil || base != "EUR" {
		t.Fatalf("default base = %q, %v; want EUR", base, err)
	}
	imp := func(csv string) (int, int) {
		t.Helper()
		rates, err := schemas.ParseRatesCSV("r.csv", strings.NewReader("currency,rate,effective\n"+csv), rateNow)
		if err != nil {
			t.Fatal(err)
		}
		a, r, err := schemas.ImportRates(app, rates)
		if err != nil {
			t.Fatal(err)
		}
		return a, r
	}
	if a, r := imp("GBP,1.10,2026-01-01\nGBP,1.20,2026-06-01\nUSD,0.90,2026-03-15\n"); a != 3 || r != 0 {
		t.Errorf("first import: %d added, %d replaced; want 3, 0", a, r)
	}
	if a, r := imp("GBP,1.25,2026-06-01\n"); a != 0 || r != 1 {
		t.Errorf("re-import: %d added, %d replaced; want 0, 1", a, r)
	}
	for _, c := range []struct {
		day      string
		gbp, usd float64 // 0: no rate
	}{
		{"2025-12-31", 0, 0},
		{"2026-01-01", 1.10, 0},
		{"2026-03-15", 1.10, 0.90},
		{"2026-05-31", 1.10, 0.90},
		{"2026-06-01", 1.25, 0.90},
		{"2030-01-01", 1.25, 0.90},
	} {
		at, _ := time.Parse(time.DateOnly, c.day)
		rates, err := schemas.LoadRates(app, at.Add(23*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for code, want := range map[string]float64{"GBP": c.gbp, "USD": c.usd} {
			got, ok := rates.Convert(100, code)
			if ok != (want != 0) || ok && schemas.RoundMoney(got) != schemas.RoundMoney(100*want) {
				t.Errorf("%s: 100 %s = %v (%v); want %v", c.day, code, got, ok, 100*want)
			}
		}
		if v, ok := rates.Convert(7, "EUR"); !ok || v != 7 {
			t.Errorf("%s: 7 EUR = %v, %v; want 7", c.day, v, ok)
		}
		if rates.Date != c.day {
			t.Errorf("rates date = %s; want %s", rates.Date, c.day)
		}
	}
	rates, _ := schemas.ParseRatesCSV("r.csv", strings.NewReader("currency,rate,effective\nEUR,1,2026-01-01\n"), rateNow)
	if _, _, err := schemas.ImportRates(app, rates); err == nil || !strings.Contains(err.Error(), "base currency") {
		t.Errorf("a rate of the base currency: err = %v; want a refusal", err)
	}
	// Rates are to a base: after a change of base the old ones are not used.
	if err := schemas.SetBaseCurrency(app, "USD"); err != nil {
		t.Fatal(err)
	}
	r, _ := schemas.LoadRates(app, rateNow)
	if _, ok := r.Convert(1, "GBP"); ok || r.Base != "USD" {
		t.Errorf("after the base became USD, GBP still converts (base %s)", r.Base)
	}
	if err := schemas.SetBaseCurrency(app, "usd"); err == nil {
		t.Error("a lower-case base currency was accepted")
	}
}

// FuzzParseRatesCSV: any input either parses into valid rates or fails with a located error.
//
//	go test -run '^$' -fuzz '^FuzzParseRatesCSV$' -fuzztime 1m ./schemas/
func FuzzParseRatesCSV(f *testing.F) {
	for _, s := range []string{"currency,rate,effective\nGBP,1.17,2026-12-01\n", "effective,rate,currency\ntoday,2,USD",
		"currency,rate,effective\n\"GBP", "a,b\n1,2", "", "currency,rate,effective\nGBP,1e400,2026-01-01\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rates, err := schemas.ParseRatesCSV("f.csv", strings.NewReader(in), rateNow)
		if err != nil {
			var es schemas.Errors
			var e *schemas.Error
			if !errors.As(err, &es) && !errors.As(err, &e) {
				t.Fatalf("unlocated error %T: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, r := range rates {
			if len(r.Currency) != 3 || !(r.Rate > 0) || len(r.Effective) != 10 {
				t.Fatalf("invalid rate accepted: %+v", r)
			}
		}
	})
}

// TestRatesCommand runs `relata rates import` and `rates list` as the CLI does.
func TestRatesCommand(t *testing.T) {
	app := openApp(t, t.TempDir())
	root := &cobra.Command{Use: "relata", SilenceErrors: true}
	schemas.MustRegister(app, root, schemas.Config{})
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "rates.csv")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(good, []byte("currency,rate,effective\nGBP,1.17,2026-11-01\nUSD,0.92,2026-11-01\n"), 0o644)
	os.WriteFile(bad, []byte("currency,rate,effective\nGBP,1.17,2026-11-01\nUSD,zero,2026-11-01\n"), 0o644)
	if out, err := run("rates", "import", good); err != nil || !strings.Contains(out, "2 rates added, 0 replaced") {
		t.Errorf("import = %q, %v", out, err)
	}
	if _, err := run("rates", "import", bad); err == nil || !strings.Contains(err.Error(), `bad.csv:3: column 2 (rate): "zero" is not a number`) {
		t.Errorf("bad import err = %v; want the located cell", err)
	}
	if _, err := run("rates", "import", filepath.Join(dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file err = %v; want one naming it", err)
	}
	if out, err := run("rates", "list", "2026-11-02"); err != nil || !strings.Contains(out, "1 GBP = 1.17 EUR (since 2026-11-01)") {
		t.Errorf("list = %q, %v", out, err)
	}
	if out, _ := run("rates", "list", "2026-10-31"); strings.Contains(out, "GBP") {
		t.Errorf("list before the rates = %q; want none", out)
	}
}

// TestRatesAccess: signed-in users read rates and the base currency; only CRM admins change
// them.
func TestRatesAccess(t *testing.T) {
	app := openApp(t, t.TempDir())
	srv := serve(t, app)
	_, salesTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", "admin", "")
	rate := map[string]any{"currency": "GBP", "base": "EUR", "rate": 1.17, "effective": "2026-11-01 00:00:00.000Z"}
	for _, c := range []struct {
		who, method, path, token string
		body                     any
		want                     int
	}{
		{"anonymous list", "GET", "/api/collections/exchange_rates/records", "", nil, 200}, // an empty list: the rule hides all
		{"sales list", "GET", "/api/collections/exchange_rates/records", salesTok, nil, 200},
		{"sales create", "POST", "/api/collections/exchange_rates/records", salesTok, rate, 400},
		{"admin create", "POST", "/api/collections/exchange_rates/records", adminTok, rate, 200},
		{"admin zero rate", "POST", "/api/collections/exchange_rates/records", adminTok, map[string]any{"currency": "USD", "base": "EUR", "rate": 0, "effective": "2026-11-01"}, 400},
		{"sales settings", "GET", "/api/collections/relata_settings/records", salesTok, nil, 200},
	} {
		if got := call(t, srv, c.method, c.path, c.token, c.body, nil); got != c.want {
			t.Errorf("%s: %s %s = %d; want %d", c.who, c.method, c.path, got, c.want)
		}
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	call(t, srv, "GET", "/api/collections/exchange_rates/records", "", nil, &list)
	if len(list.Items) != 0 {
		t.Errorf("anonymous callers see %d rates", len(list.Items))
	}
	call(t, srv, "GET", "/api/collections/relata_settings/records", salesTok, nil, &list)
	if len(list.Items) != 1 || list.Items[0]["base_currency"] != "EUR" {
		t.Errorf("settings = %v; want one record with base EUR", list.Items)
	}
	id, _ := list.Items[0]["id"].(string)
	if got := call(t, srv, "PATCH", "/api/collections/relata_settings/records/"+id, salesTok, map[string]any{"base_currency": "USD"}, nil); got != 404 {
		t.Errorf("sales user changes the base currency: %d; want 404", got)
	}
	if got := call(t, srv, "PATCH", "/api/collections/relata_settings/records/"+id, adminTok, map[string]any{"base_currency": "USD"}, nil); got != 200 {
		t.Errorf("admin changes the base currency: %d; want 200", got)
	}
	if base, _ := schemas.BaseCurrency(app); base != "USD" {
		t.Errorf("base = %s; want USD", base)
	}
}
