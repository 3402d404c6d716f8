package schemas

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Money in several currencies. Every amount is stored in its own currency (a currency field
// "amount" keeps its ISO code in "amount_currency"); totals are converted to the
// organisation's base currency with the exchange rates in effect on a stated date. A currency
// without a rate on that date is never counted 1:1: converters report it as missing.
const (
	// SettingsCollection holds the organisation's settings: one record with base_currency.
	SettingsCollection = "relata_settings"
	// ExchangeRatesCollection holds the rates: currency, base, rate (one unit of currency in
	// base), effective (the date from which the rate holds). Only rates whose base is the
	// current base currency are used, so changing the base never reuses rates silently.
	ExchangeRatesCollection = "exchange_rates"
	// QuotasCollection holds sales quotas: a user or a team, a period (month or quarter,
	// from its first day "start"), an amount and its currency. The forecast compares each
	// with the amount won in its period (package insights/scoring).
	QuotasCollection = "quotas"
	// DefaultBaseCurrency is the base currency until an admin sets another.
	DefaultBaseCurrency = "EUR"
)

// BaseCurrency returns the organisation's base currency: base_currency of the settings
// record, or [DefaultBaseCurrency] when none is set.
func BaseCurrency(app core.App) (string, error) {
	var row struct {
		Base string `db:"base_currency"`
	}
	if _, err := app.FindCachedCollectionByNameOrId(SettingsCollection); err != nil {
		return DefaultBaseCurrency, nil
	}
	err := app.DB().Select("base_currency").From(SettingsCollection).OrderBy("rowid").Limit(1).One(&row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return DefaultBaseCurrency, nil
	case err != nil:
		return "", fmt.Errorf("read the base currency: %w", err)
	case !currencyRe.MatchString(row.Base):
		return DefaultBaseCurrency, nil
	}
	return row.Base, nil
}

// SetBaseCurrency stores the organisation's base currency.
func SetBaseCurrency(app core.App, code string) error {
	if !currencyRe.MatchString(code) {
		return fmt.Errorf("%q is not a 3-letter ISO 4217 currency code", code)
	}
	coll, err := app.FindCollectionByNameOrId(SettingsCollection)
	if err != nil {
		return fmt.Errorf("settings collection: %w", err)
	}
	recs, err := app.FindAllRecords(coll)
	if err != nil {
		return err
	}
	rec := core.NewRecord(coll)
	if len(recs) > 0 {
		rec = recs[0]
	}
	rec.Set("base_currency", code)
	return app.Save(rec)
}

// Rate is one exchange rate: one unit of Currency is worth Rate units of the base currency
// from Effective (a date, "2026-12-01") on.
type Rate struct {
	Currency  string  `json:"currency"`
	Rate      float64 `json:"rate"`
	Effective string  `json:"effective"`
}

// Rates are the exchange rates in effect on one date.
type Rates struct {
	// Base is the currency amounts are converted to.
	Base string `json:"base"`
	// Date is the day whose rates are used ("2026-12-01").
	Date   string `json:"date"`
	byCode map[string]Rate
}

// DateOnly formats t as the date rates are looked up by (UTC).
func DateOnly(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// LoadRates returns the base currency and, for each currency, its latest rate to it
// effective on or before the day of at (UTC).
func LoadRates(app core.App, at time.Time) (*Rates, error) {
	base, err := BaseCurrency(app)
	if err != nil {
		return nil, err
	}
	r := &Rates{Base: base, Date: DateOnly(at), byCode: map[string]Rate{}}
	if _, err := app.FindCachedCollectionByNameOrId(ExchangeRatesCollection); err != nil {
		return r, nil
	}
	var rows []struct {
		Currency  string  `db:"currency"`
		Rate      float64 `db:"rate"`
		Effective string  `db:"effective"`
	}
	err = app.DB().Select("currency", "rate", "effective").From(ExchangeRatesCollection).
		Where(dbx.NewExp("substr([[effective]], 1, 10) <= {:day} AND [[base]] = {:base}", dbx.Params{"day": r.Date, "base": base})).
		AndWhere(dbx.NewExp("[[rate]] > 0")).
		OrderBy("effective ASC", "rowid ASC").All(&rows)
	if err != nil {
		return nil, fmt.Errorf("read the exchange rates: %w", err)
	}
	for _, row := range rows { // later effective dates win
		r.byCode[row.Currency] = Rate{Currency: row.Currency, Rate: row.Rate, Effective: dateOf(row.Effective)}
	}
	return r, nil
}

func dateOf(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

// Rate returns the rate of code to the base currency (1 for the base currency itself), and
// false when no rate of code is in effect on the date.
func (r *Rates) Rate(code string) (Rate, bool) {
	if code == r.Base {
		return Rate{Currency: code, Rate: 1}, true
	}
	rt, ok := r.byCode[code]
	return rt, ok
}

// Convert returns amount (in code) in the base currency, and false when there is no rate.
func (r *Rates) Convert(amount float64, code string) (float64, bool) {
	rt, ok := r.Rate(code)
	if !ok {
		return 0, false
	}
	return amount * rt.Rate, true
}

// Currencies lists the currencies that have a rate on the date, sorted.
func (r *Rates) Currencies() []string {
	out := make([]string, 0, len(r.byCode))
	for c := range r.byCode {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// RoundMoney rounds a converted amount to cents, so sums of converted amounts compare and
// display exactly.
func RoundMoney(v float64) float64 { return math.Round(v*100) / 100 }
