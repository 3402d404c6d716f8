package schemas

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

// RatesSeedFile is the exchange-rate file a seed directory may hold (see [Seed]).
const RatesSeedFile = "exchange_rates.csv"

// ParseRatesCSV reads exchange rates from CSV with a header row naming the columns currency,
// rate and effective (any order; other columns are ignored). effective is a date
// (YYYY-MM-DD) or a relative date such as today-30d, resolved against now. Every problem is
// reported with its row and column: file:line column N (name): reason.
func ParseRatesCSV(name string, r io.Reader, now time.Time) ([]Rate, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Message: "empty file: want a header row with currency, rate, effective"}
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup && h != "" {
			return nil, &Error{File: name, Line: 1, Message: fmt.Sprintf("column %d: %q appears twice in the header", i+1, h)}
		}
		col[h] = i
	}
	var errs Errors
	for _, want := range []string{"currency", "rate", "effective"} {
		if _, ok := col[want]; !ok {
			errs = append(errs, &Error{File: name, Line: 1, Message: fmt.Sprintf("the header has no %q column (want currency, rate, effective)", want)})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var out []Rate
	seen := map[string]int{} // currency@date -> line
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, csvError(name, err))
			break
		}
		line, _ := cr.FieldPos(0)
		cell := func(key string) (string, bool) {
			i := col[key]
			if i >= len(rec) {
				errs = append(errs, &Error{File: name, Line: line, Message: fmt.Sprintf("column %d (%s): missing, the row has only %d columns", i+1, key, len(rec))})
				return "", false
			}
			return strings.TrimSpace(rec[i]), true
		}
		bad := func(key, format string, args ...any) {
			errs = append(errs, &Error{File: name, Line: line, Message: fmt.Sprintf("column %d (%s): ", col[key]+1, key) + fmt.Sprintf(format, args...)})
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		code, ok1 := cell("currency")
		rateText, ok2 := cell("rate")
		eff, ok3 := cell("effective")
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		rt := Rate{Currency: strings.ToUpper(code)}
		if !currencyRe.MatchString(rt.Currency) {
			bad("currency", "%q is not a 3-letter ISO 4217 currency code", code)
		}
		v, err := strconv.ParseFloat(rateText, 64)
		switch {
		case err != nil:
			bad("rate", "%q is not a number (use a dot for decimals: 1.17)", rateText)
		case !(v > 0) || math.IsInf(v, 0):
			bad("rate", "%s must be a positive number", rateText)
		}
		rt.Rate = v
		d, err := ResolveDate(eff, now)
		if err != nil || d.IsZero() {
			bad("effective", "%q is not a date (YYYY-MM-DD or a relative date such as today-30d)", eff)
		} else {
			rt.Effective = d.Time().UTC().Format(time.DateOnly)
		}
		key := rt.Currency + "@" + rt.Effective
		if prev, dup := seen[key]; dup && rt.Effective != "" {
			bad("effective", "a second rate of %s effective %s (the first is on line %d)", rt.Currency, rt.Effective, prev)
		}
		seen[key] = line
		out = append(out, rt)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func csvError(name string, err error) *Error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{File: name, Line: pe.Line, Message: fmt.Sprintf("column %d: %v", pe.Column, pe.Err)}
	}
	return &Error{File: name, Message: err.Error()}
}

// ImportRates stores rates to the current base currency in one transaction: a rate of the
// same currency and effective date is replaced, others are added. It returns how many were added and replaced.
func ImportRates(app core.App, rates []Rate) (added, replaced int, err error) {
	base, err := BaseCurrency(app)
	if err != nil {
		return 0, 0, err
	}
	for _, rt := range rates {
		if rt.Currency == base {
			return 0, 0, fmt.Errorf("a rate of %s, the base currency, makes no sense (it is always 1)", base)
		}
	}
	err = app.RunInTransaction(func(tx core.App) error {
		coll, err := tx.FindCollectionByNameOrId(ExchangeRatesCollection)
		if err != nil {
			return fmt.Errorf("exchange rates collection: %w", err)
		}
		for _, rt := range rates {
			var rec *core.Record
			found, err := tx.FindFirstRecordByFilter(coll, "base = {:base} && currency = {:c} && effective >= {:from} && effective <= {:to}",
				dbx.Params{"base": base, "c": rt.Currency, "from": rt.Effective + " 00:00:00.000Z", "to": rt.Effective + " 23:59:59.999Z"})
			if err == nil {
				rec = found
				replaced++
			} else {
				rec = core.NewRecord(coll)
				added++
			}
			rec.Set("base", base)
			rec.Set("currency", rt.Currency)
			rec.Set("rate", rt.Rate)
			rec.Set("effective", rt.Effective+" 00:00:00.000Z")
			if err := tx.Save(rec); err != nil {
				return fmt.Errorf("rate of %s effective %s: %w", rt.Currency, rt.Effective, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return added, replaced, nil
}

// ImportRatesFile parses and stores the rates of a CSV file.
func ImportRatesFile(app core.App, file string) (added, replaced int, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	rates, err := ParseRatesCSV(filepath.Base(file), f, time.Now())
	if err != nil {
		return 0, 0, err
	}
	return ImportRates(app, rates)
}

func (r *Registry) newRatesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rates",
		Short: "Show and import the exchange rates totals are converted with",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "import FILE.csv",
		Short: "Add or replace exchange rates from a CSV file (columns currency, rate, effective)",
		Long: "Each row is one rate: one unit of currency is worth rate units of the base currency from the\n" +
			"effective date (YYYY-MM-DD) on. A rate of the same currency and date is replaced.",
		Example:      "  relata rates import rates.csv",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := r.ready(); err != nil {
				return err
			}
			added, replaced, err := ImportRatesFile(r.app, args[0])
			if err != nil {
				return fmt.Errorf("import %s:\n%w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d rates added, %d replaced\n", args[0], added, replaced)
			return nil
		},
	}, &cobra.Command{
		Use:          "list [DATE]",
		Short:        "Show the base currency and the rates in effect on DATE (default today)",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := r.ready(); err != nil {
				return err
			}
			at := time.Now()
			if len(args) == 1 {
				d, err := time.Parse(time.DateOnly, args[0])
				if err != nil {
					return fmt.Errorf("%q is not a date (YYYY-MM-DD)", args[0])
				}
				at = d
			}
			rates, err := LoadRates(r.app, at)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "base currency %s, rates of %s:\n", rates.Base, rates.Date)
			for _, c := range rates.Currencies() {
				rt, _ := rates.Rate(c)
				fmt.Fprintf(w, "  1 %s = %v %s (since %s)\n", c, rt.Rate, rates.Base, rt.Effective)
			}
			return nil
		},
	})
	return cmd
}

// seedRates reads the exchange rates of a seed directory, if it has [RatesSeedFile].
func seedRates(fsys fs.FS) ([]Rate, Errors) {
	f, err := fsys.Open(RatesSeedFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, Errors{{File: RatesSeedFile, Message: err.Error()}}
	}
	defer f.Close()
	rates, err := ParseRatesCSV(RatesSeedFile, f, time.Now())
	var (
		es Errors
		e  *Error
	)
	switch {
	case err == nil:
		return rates, nil
	case errors.As(err, &es):
		return nil, es
	case errors.As(err, &e):
		return nil, Errors{e}
	}
	return nil, Errors{{File: RatesSeedFile, Message: err.Error()}}
}
