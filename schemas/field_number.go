package schemas

import (
	"fmt"
	"regexp"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// CurrencyPattern is what an ISO 4217 currency code looks like.
const CurrencyPattern = `^[A-Z]{3}$`

var currencyRe = regexp.MustCompile(CurrencyPattern)

func init() {
	registerFieldType(TypeNumber, numberType{})
	registerFieldType(TypeCurrency, currencyType{})
	registerFieldType(TypeBoolean, boolType{})
	registerFieldType(TypeDate, dateType{dateOnly: true})
	registerFieldType(TypeDateTime, dateType{})
}

type numberType struct{}

func (numberType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	return []core.Field{&core.NumberField{Name: name, Help: help, Required: req, Min: f.Min, Max: f.Max}}, nil
}

func checkNumber(f *Field, v any) error {
	n, ok := v.(float64)
	if !ok {
		return fmt.Errorf("must be a number, not %s", describe(v))
	}
	if f.Min != nil && n < *f.Min {
		return fmt.Errorf("must be at least %v", *f.Min)
	}
	if f.Max != nil && n > *f.Max {
		return fmt.Errorf("must be at most %v", *f.Max)
	}
	return nil
}

func (numberType) CheckValue(_ *Object, f *Field, v any) error { return checkNumber(f, v) }

// currencyType stores an amount as a number column and its ISO code in a text column
// named with [CurrencySuffix].
type currencyType struct{}

func (currencyType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	return []core.Field{
		&core.NumberField{Name: name, Help: help, Required: req, Min: f.Min, Max: f.Max},
		&core.TextField{Name: name + CurrencySuffix, Help: "ISO 4217 code of " + name, Max: 3, Pattern: CurrencyPattern},
	}, nil
}

func (currencyType) CheckValue(_ *Object, f *Field, v any) error { return checkNumber(f, v) }

type boolType struct{}

func (boolType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, _ := common(f)
	// A required PocketBase bool must be true; "required" on a CRM checkbox means the same.
	return []core.Field{&core.BoolField{Name: name, Help: help, Required: f.Required}}, nil
}

func (boolType) CheckValue(_ *Object, _ *Field, v any) error {
	if _, ok := v.(bool); !ok {
		return fmt.Errorf("must be true or false, not %s", describe(v))
	}
	return nil
}

type dateType struct{ dateOnly bool }

func (dateType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	return []core.Field{&core.DateField{Name: name, Help: help, Required: req}}, nil
}

// relativeDate matches the relative dates that defaults and seed data may use: "now",
// "today", "now+3d", "today-2w", "now+4h".
var relativeDate = regexp.MustCompile(`^(now|today)([+-]\d{1,5}[mhdw])?$`)

func (t dateType) CheckValue(_ *Object, _ *Field, v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a date string, not %s", describe(v))
	}
	if s == "" || relativeDate.MatchString(s) {
		return nil
	}
	if t.dateOnly {
		if _, err := parseDate(s); err != nil {
			return fmt.Errorf("%q is not a date (YYYY-MM-DD or a relative date such as today+7d)", s)
		}
		return nil
	}
	if _, err := parseDate(s); err != nil {
		return fmt.Errorf("%q is not a date and time (RFC 3339, or a relative date such as now+4h)", s)
	}
	return nil
}

// parseDate parses an absolute date or date and time; PocketBase's parser returns the zero
// date for text it does not understand, which is an error here.
func parseDate(s string) (types.DateTime, error) {
	d, err := types.ParseDateTime(s)
	if err == nil && d.IsZero() {
		err = fmt.Errorf("%q is not a date", s)
	}
	return d, err
}
