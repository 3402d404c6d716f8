package transfer_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/transfer"
)

func TestDetectHints(t *testing.T) {
	scenarios := []struct {
		name  string
		cells []string
		want  transfer.Hints
	}{
		{"day-first dates", []string{"05/03/2025", "28/02/2025", ""}, transfer.Hints{DateOrder: transfer.DayFirst}},
		{"month-first dates", []string{"03/14/2025", "12/01/2025"}, transfer.Hints{DateOrder: transfer.MonthFirst}},
		{"ambiguous dates", []string{"01/02/2025", "03/04/2025"}, transfer.Hints{}},
		{"mixed dates", []string{"13/01/2025", "01/13/2025"}, transfer.Hints{DateConflict: true}},
		{"decimal commas", []string{"1.234,56 €", "350", "€ 12.000,00"}, transfer.Hints{DecimalComma: true}},
		{"Italian thousands only", []string{"1.234.567", "12"}, transfer.Hints{DecimalComma: true}},
		{"decimal points", []string{"$1,250.50", "2,000"}, transfer.Hints{}},
		{"points and commas disagree", []string{"12,5", "12.5"}, transfer.Hints{}},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			if got := transfer.DetectHints(s.cells); got != s.want {
				t.Fatalf("DetectHints(%q) = %+v; want %+v", s.cells, got, s.want)
			}
		})
	}
}

func TestParseNumber(t *testing.T) {
	scenarios := []struct {
		in       string
		comma    bool
		want     float64
		currency string
		err      bool
	}{
		{"1.234,56", true, 1234.56, "", false},
		{"1.234,56 €", true, 1234.56, "EUR", false},
		{"€ 12.000,00", true, 12000, "EUR", false},
		{"$1,250.50", false, 1250.5, "USD", false},
		{"2,000", false, 2000, "", false},
		{"12,5", false, 12.5, "", false},
		{"1.234", true, 1234, "", false},
		{"1.234", false, 1.234, "", false},
		{"1 234 567,8", true, 1234567.8, "", false},
		{"1'234.5 CHF", false, 1234.5, "CHF", false},
		{"(1,234.00)", false, -1234, "", false},
		{"-350", false, -350, "", false},
		{"GBP 99", false, 99, "GBP", false},
		{"£99.99", false, 99.99, "GBP", false},
		{"12abc", false, 0, "", true},
		{"", false, 0, "", true},
		{"1e400", false, 0, "", true},
	}
	for _, s := range scenarios {
		n, cur, err := transfer.ParseNumber(s.in, s.comma)
		if (err != nil) != s.err {
			t.Errorf("ParseNumber(%q, %v) err = %v; want error %v", s.in, s.comma, err, s.err)
			continue
		}
		if n != s.want || cur != s.currency {
			t.Errorf("ParseNumber(%q, %v) = %v %q; want %v %q", s.in, s.comma, n, cur, s.want, s.currency)
		}
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"yes": true, "Sì": true, "si": true, "TRUE": true, "1": true, "x": true, "X": true,
		"no": false, "No": false, "false": false, "0": false, "FALSE": false} {
		got, err := transfer.ParseBool(in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := transfer.ParseBool("maybe"); err == nil || !strings.Contains(err.Error(), `"maybe" is not yes or no`) {
		t.Errorf("ParseBool(maybe) err = %v", err)
	}
}

func TestParseDate(t *testing.T) {
	scenarios := []struct {
		in, order, want string
		err             bool
	}{
		{"45731", "", "2025-03-15 00:00:00", false},
		{"45658.75", "", "2025-01-01 18:00:00", false},
		{"2025-03-05", "", "2025-03-05 00:00:00", false},
		{"2025-03-05T10:30:00+01:00", "", "2025-03-05 09:30:00", false},
		{"2024-01-15 09:30", "", "2024-01-15 09:30:00", false},
		{"05/03/2025", transfer.DayFirst, "2025-03-05 00:00:00", false},
		{"05/03/2025", transfer.MonthFirst, "2025-05-03 00:00:00", false},
		{"05/03/2025", "", "2025-03-05 00:00:00", false},
		{"5.3.25", transfer.DayFirst, "2025-03-05 00:00:00", false},
		{"03/14/2025 16:05", transfer.MonthFirst, "2025-03-14 16:05:00", false},
		{"31/02/2025", transfer.DayFirst, "", true},
		{"14/03/2025", transfer.MonthFirst, "", true},
		{"next tuesday", "", "", true},
	}
	for _, s := range scenarios {
		got, err := transfer.ParseDate(s.in, s.order)
		if (err != nil) != s.err {
			t.Errorf("ParseDate(%q, %q) err = %v; want error %v", s.in, s.order, err, s.err)
			continue
		}
		if !s.err && got.Format("2006-01-02 15:04:05") != s.want {
			t.Errorf("ParseDate(%q, %q) = %s; want %s", s.in, s.order, got, s.want)
		}
	}
}

func TestValue(t *testing.T) {
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]*schemas.Object{}
	for _, o := range objs {
		obj[o.Name] = o
	}
	multi := &schemas.Field{Name: "regions", Type: schemas.TypeSelect, Multiple: true, Options: []schemas.Option{{Value: "emea", Label: "Europe"}, {Value: "apac"}}}
	scenarios := []struct {
		object, field string
		f             *schemas.Field
		cell          string
		hints         transfer.Hints
		want          any
		currency      string
		err           string
	}{
		{object: "deals", field: "amount", cell: "1.234,56 €", hints: transfer.Hints{DecimalComma: true}, want: 1234.56, currency: "EUR"},
		{object: "deals", field: "amount", cell: "-5", err: "must be at least 0"},
		{object: "deals", field: "stage", cell: "Proposal", want: "proposal"},
		{object: "deals", field: "stage", cell: "closing", err: `"closing" is not a stage of pipeline sales`},
		{object: "deals", field: "expected_close", cell: "45731", want: "2025-03-15 00:00:00.000Z"},
		{object: "deals", field: "closed_at", cell: "45658.75", want: "2025-01-01 18:00:00.000Z"},
		{object: "deals", field: "expected_close", cell: "13/01/2025", hints: transfer.Hints{DateConflict: true}, err: "mixes day-first and month-first"},
		{object: "contacts", field: "email", cell: " ZOE@Example.com ", want: "zoe@example.com"},
		{object: "contacts", field: "email", cell: "not-an-email", err: "not a valid email"},
		{object: "contacts", field: "lifecycle_stage", cell: "Sales qualified\nlead", want: "sql"},
		{object: "contacts", field: "lifecycle_stage", cell: "Customer", want: "customer"},
		{object: "contacts", field: "lifecycle_stage", cell: "vip", err: `"vip" is not an option`},
		{object: "contacts", field: "source", cell: "cold outreach", want: "cold_outreach"},
		{object: "contacts", field: "tags", cell: "vip, nordics", want: []string{"vip", "nordics"}},
		{object: "contacts", field: "tags", cell: "trade-show;2025; trade-show", want: []string{"trade-show", "2025"}},
		{object: "contacts", field: "do_not_email", cell: "sì", want: true},
		{object: "contacts", field: "do_not_email", cell: "forse", err: "not yes or no"},
		{object: "contacts", field: "phone", cell: "call me", err: "does not match the pattern"},
		{object: "contacts", field: "full_name", cell: "'=HYPERLINK(\"x\")", want: "=HYPERLINK(\"x\")"},
		{object: "contacts", field: "full_name", cell: "  ", err: "no value"},
		{object: "companies", field: "website", cell: "acme.example", want: "https://acme.example"},
		{object: "companies", field: "domain", cell: "Not a domain", err: "does not match the pattern"},
		{object: "companies", f: multi, cell: "Europe; apac", want: []string{"emea", "apac"}},
	}
	for _, s := range scenarios {
		o := obj[s.object]
		f := s.f
		if f == nil {
			f = o.Field(s.field)
		}
		got, cur, err := transfer.Value(o, f, s.cell, s.hints)
		if s.err != "" {
			if err == nil || !strings.Contains(err.Error(), s.err) {
				t.Errorf("%s.%s %q: err = %v; want %q", s.object, f.Name, s.cell, err, s.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s.%s %q: %v", s.object, f.Name, s.cell, err)
			continue
		}
		if !reflect.DeepEqual(got, s.want) || cur != s.currency {
			t.Errorf("%s.%s %q = %#v %q; want %#v %q", s.object, f.Name, s.cell, got, cur, s.want, s.currency)
		}
	}
}
