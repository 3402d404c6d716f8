package transfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/relata/relata/schemas"
)

// Date orders of day-month-year dates such as 05/03/2025.
const (
	// DayFirst reads 05/03/2025 as 5 March 2025.
	DayFirst = "dmy"
	// MonthFirst reads 05/03/2025 as 3 May 2025.
	MonthFirst = "mdy"
)

// Hints say how to read the ambiguous cells of one column. They are detected from the data
// (see [DetectHints]) and may be overridden.
type Hints struct {
	// DateOrder is [DayFirst] or [MonthFirst]; "" when the data does not tell (then day-first).
	DateOrder string
	// DateConflict is set when the column has both day-first and month-first dates.
	DateConflict bool
	// DecimalComma reads "1.234,56" as 1234.56 and "12,5" as 12.5.
	DecimalComma bool
}

var (
	currencyRe = regexp.MustCompile(schemas.CurrencyPattern)
	dmyRe      = regexp.MustCompile(`^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$`)
	serialRe   = regexp.MustCompile(`^\d{1,7}(\.\d+)?$`)
	commaDec   = regexp.MustCompile(`,\d{1,2}$|,\d{4,}$`)
	dotDec     = regexp.MustCompile(`\.\d{1,2}$|\.\d{4,}$`)
)

// DetectHints reads sample cells of one column: a first part above 12 in a date means the
// day comes first, a second part above 12 that the month does; a comma followed by other
// than three digits at the end of a number (or after the last dot) means decimal commas.
func DetectHints(cells []string) Hints {
	var h Hints
	var dayFirst, monthFirst, comma, dot bool
	for _, c := range cells {
		c = strings.TrimSpace(c)
		if m := dmyRe.FindStringSubmatch(c); m != nil {
			a, _ := strconv.Atoi(m[1])
			b, _ := strconv.Atoi(m[2])
			dayFirst = dayFirst || a > 12
			monthFirst = monthFirst || b > 12
			continue
		}
		n := stripNumber(c)
		if n == "" || strings.ContainsFunc(n, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' && r != ',' && r != '-' }) {
			continue
		}
		lastComma, lastDot := strings.LastIndex(n, ","), strings.LastIndex(n, ".")
		switch {
		case lastComma > lastDot && (lastDot >= 0 || commaDec.MatchString(n)):
			comma = true // 1.234,56 or 12,5
		case lastDot > lastComma && lastComma >= 0:
			dot = true // 1,234.56
		case lastDot >= 0 && strings.Count(n, ".") > 1:
			comma = true // 1.234.567
		case lastDot >= 0 && dotDec.MatchString(n):
			dot = true // 12.5; "1.234" alone tells nothing
		}
	}
	switch {
	case dayFirst && monthFirst:
		h.DateConflict = true
	case dayFirst:
		h.DateOrder = DayFirst
	case monthFirst:
		h.DateOrder = MonthFirst
	}
	h.DecimalComma = comma && !dot
	return h
}

// currencySymbols maps the symbols people type to ISO 4217 codes. Longest first.
var currencySymbols = []struct{ sym, code string }{
	{"US$", "USD"}, {"CHF", "CHF"}, {"€", "EUR"}, {"$", "USD"}, {"£", "GBP"}, {"¥", "JPY"}, {"₹", "INR"}, {"kr", "SEK"},
}

var codeRe = regexp.MustCompile(`(?:^|[\s\d])([A-Z]{3})(?:$|[\s\d])`)

// stripCurrency removes a currency symbol or ISO code from s and returns the code.
func stripCurrency(s string) (rest, code string) {
	for _, c := range currencySymbols {
		if i := strings.Index(s, c.sym); i >= 0 {
			return s[:i] + s[i+len(c.sym):], c.code
		}
	}
	if m := codeRe.FindStringSubmatchIndex(s); m != nil {
		return s[:m[2]] + s[m[3]:], s[m[2]:m[3]]
	}
	return s, ""
}

// stripNumber removes currency, spaces (also non-breaking) and apostrophes (Swiss
// thousands) from a number cell.
func stripNumber(s string) string {
	s, _ = stripCurrency(s)
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\'' || r == '’' || r == '\u00a0' || r == '\u202f' {
			return -1
		}
		return r
	}, s)
}

// ParseNumber reads a number as people write it: "1.234,56", "1,234.56", "(1,234)" (a
// negative amount), "€ 12.000", "1'234.5". It returns the ISO code of a currency written in
// the cell, if any.
func ParseNumber(s string, decimalComma bool) (float64, string, error) {
	orig := s
	s, code := stripCurrency(strings.TrimSpace(s))
	s = stripNumber(s)
	neg := false
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		neg, s = true, s[1:len(s)-1]
	}
	if strings.HasPrefix(s, "-") {
		neg, s = !neg, s[1:]
	}
	lastComma, lastDot := strings.LastIndex(s, ","), strings.LastIndex(s, ".")
	switch {
	case lastComma >= 0 && lastDot >= 0:
		if lastComma > lastDot {
			s = strings.ReplaceAll(strings.ReplaceAll(s, ".", ""), ",", ".")
		} else {
			s = strings.ReplaceAll(s, ",", "")
		}
	case lastComma >= 0:
		if !decimalComma && thousandsRe(",").MatchString(s) || strings.Count(s, ",") > 1 {
			s = strings.ReplaceAll(s, ",", "")
		} else {
			s = strings.ReplaceAll(s, ",", ".")
		}
	case lastDot >= 0:
		if decimalComma && thousandsRe(".").MatchString(s) || strings.Count(s, ".") > 1 {
			s = strings.ReplaceAll(s, ".", "")
		}
	}
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' }) {
		return 0, "", fmt.Errorf("%q is not a number", orig)
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(n, 0) {
		return 0, "", fmt.Errorf("%q is not a number", orig)
	}
	if neg {
		n = -n
	}
	return n, code, nil
}

func thousandsRe(sep string) *regexp.Regexp {
	return regexp.MustCompile(`^\d{1,3}(` + regexp.QuoteMeta(sep) + `\d{3})+$`)
}

// ParseBool reads yes/no in English and Italian, true/false, 1/0 and x (a ticked box).
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "y", "true", "1", "x", "sì", "si", "vero", "on", "✓", "✔":
		return true, nil
	case "no", "n", "false", "0", "falso", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no (yes/no, sì/no, true/false, 1/0, x)", s)
}

// excelEpoch is day 0 of Excel's 1900 date system (which counts 1900 as a leap year).
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05.000Z", "2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02",
}

// ParseDate reads an ISO date, an Excel serial number (45731 is 2025-03-15) or a day-month
// or month-day date in the given order ("" means day-first). Times without a zone are UTC.
func ParseDate(s, order string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if serialRe.MatchString(s) {
		days, err := strconv.ParseFloat(s, 64)
		if err == nil && days >= 1 && days < 2958466 { // up to 9999-12-31
			d := excelEpoch.Add(time.Duration(math.Round(days*86400)) * time.Second)
			return d, nil
		}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	m := dmyRe.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is not a date (use YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY)", s)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	y, _ := strconv.Atoi(m[3])
	if len(m[3]) == 2 {
		y += 2000
		if y > time.Now().Year()+30 {
			y -= 100
		}
	}
	day, month := a, b
	if order == MonthFirst {
		day, month = b, a
	}
	var hh, mm, ss int
	if m[4] != "" {
		hh, _ = strconv.Atoi(m[4])
		mm, _ = strconv.Atoi(m[5])
		ss, _ = strconv.Atoi(m[6])
	}
	t := time.Date(y, time.Month(month), day, hh, mm, ss, 0, time.UTC)
	if t.Day() != day || int(t.Month()) != month || hh > 23 || mm > 59 || ss > 59 {
		what := "day-first"
		if order == MonthFirst {
			what = "month-first"
		}
		return time.Time{}, fmt.Errorf("%q is not a valid %s date", s, what)
	}
	return t, nil
}

// SplitList splits a multi-value cell on ';' or ',' (whichever it has; ';' wins), trimming
// and dropping empty and repeated items.
func SplitList(s string) []string {
	sep := ","
	if strings.Contains(s, ";") {
		sep = ";"
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range strings.Split(s, sep) {
		p = strings.TrimSpace(p)
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

// unneutralize removes the apostrophe that exports put before cells starting with a formula
// character, so an exported file imports back unchanged. Imported values are never
// evaluated either way.
func unneutralize(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}

func fold(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// choose finds the option (by value or label, ignoring case and spacing) that cell names.
func choose(cell string, values, labels []string) (string, bool) {
	c := fold(cell)
	for i, v := range values {
		if fold(v) == c || fold(labels[i]) == c || fold(strings.ReplaceAll(v, "_", " ")) == c {
			return v, true
		}
	}
	return "", false
}

// stageValue converts cell (trimmed, not empty: a stage's name or label) of stage field f for
// a record that follows pipelineValue, the value of f's PipelineField in the record ("" for
// f's own pipeline): deals in the renewals pipeline have the stages of renewals, and a label
// names the stage of that pipeline.
func stageValue(o *schemas.Object, f *schemas.Field, pipelineValue, cell string) (string, error) {
	p := o.RecordPipeline(f, pipelineValue)
	if p == nil {
		if pipelineValue == "" {
			return "", fmt.Errorf("the field names unknown pipeline %q", f.Pipeline)
		}
		return "", fmt.Errorf("the record's pipeline %q is not one of the field's (%s)", pipelineValue, strings.Join(pipelineNames(o.StagePipelines(f)), ", "))
	}
	labels := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		labels[i] = s.Label
	}
	v, ok := choose(cell, p.StageNames(), labels)
	if !ok {
		return "", fmt.Errorf("%q is not a stage of pipeline %s (%s)", cell, p.Name, strings.Join(p.StageNames(), ", "))
	}
	return v, nil
}

func pipelineNames(ps []*schemas.Pipeline) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// errNoValue marks an empty cell: the field is left as it is.
var errNoValue = errors.New("no value")

// Value converts one non-relation cell into the value of field f of object o, as PocketBase
// stores it. A currency symbol or code in a number cell is returned as currency. Relation and
// owner cells are resolved by the importer.
func Value(o *schemas.Object, f *schemas.Field, cell string, h Hints) (v any, currency string, err error) {
	cell = strings.TrimSpace(unneutralize(cell))
	if cell == "" {
		return nil, "", errNoValue
	}
	switch f.Type {
	case schemas.TypeNumber, schemas.TypeCurrency:
		n, code, err := ParseNumber(cell, h.DecimalComma)
		if err != nil {
			return nil, "", err
		}
		if err := check(o, f, n); err != nil {
			return nil, "", err
		}
		return n, code, nil
	case schemas.TypeBoolean:
		b, err := ParseBool(cell)
		return b, "", err
	case schemas.TypeDate, schemas.TypeDateTime:
		if h.DateConflict && dmyRe.MatchString(cell) {
			return nil, "", errors.New("the column mixes day-first and month-first dates; choose the order")
		}
		t, err := ParseDate(cell, h.DateOrder)
		if err != nil {
			return nil, "", err
		}
		if f.Type == schemas.TypeDate {
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		return t.Format("2006-01-02 15:04:05.000Z"), "", nil
	case schemas.TypeSelect:
		labels := make([]string, len(f.Options))
		for i, op := range f.Options {
			labels[i] = op.Label
		}
		parts := []string{cell}
		if f.Multiple {
			parts = SplitList(cell)
		}
		var vals []string
		for _, p := range parts {
			v, ok := choose(p, f.OptionValues(), labels)
			if !ok {
				return nil, "", fmt.Errorf("%q is not an option (%s)", p, strings.Join(f.OptionValues(), ", "))
			}
			vals = append(vals, v)
		}
		if f.Multiple {
			return vals, "", nil
		}
		return vals[0], "", nil
	case schemas.TypeStage:
		// The field's own pipeline: the importer converts the stage of a record that follows
		// another one (f.PipelineField) itself, knowing the record (importer.rowPipeline).
		v, err := stageValue(o, f, "", cell)
		if err != nil {
			return nil, "", err
		}
		return v, "", nil
	case schemas.TypeTags:
		return SplitList(cell), "", nil
	case schemas.TypeJSON:
		if !json.Valid([]byte(cell)) {
			return nil, "", errors.New("is not valid JSON")
		}
		return json.RawMessage(cell), "", nil
	case schemas.TypeFile:
		return nil, "", errors.New("files cannot be imported from a spreadsheet")
	case schemas.TypeRelation, schemas.TypeOwner:
		return nil, "", fmt.Errorf("internal: relation field %s converted as a value", f.Name)
	case schemas.TypeEmail:
		cell = strings.ToLower(cell)
	case schemas.TypeURL:
		if !strings.Contains(cell, "://") && strings.Contains(cell, ".") {
			cell = "https://" + cell
		}
	}
	if err := check(o, f, cell); err != nil {
		return nil, "", err
	}
	return cell, "", nil
}

// patterns caches the compiled patterns of text fields: the object model's check compiles
// them on every call, too slow for 100,000 rows.
var patterns sync.Map // pattern -> *regexp.Regexp

// phoneMax is the length limit of phone fields in the object model.
const phoneMax = 32

func ptrOr(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

// check applies the object model's own check of a value of f. Patterns of text and phone
// fields are matched here with a cached regexp, then the model checks the rest (lengths).
func check(o *schemas.Object, f *schemas.Field, v any) error {
	if s, ok := v.(string); ok && (f.Type == schemas.TypeText || f.Type == schemas.TypeLongText || f.Type == schemas.TypePhone) {
		pattern := f.Pattern
		if pattern == "" && f.Type == schemas.TypePhone {
			pattern = schemas.PhonePattern
		}
		if pattern != "" {
			re, ok := patterns.Load(pattern)
			if !ok {
				c, err := regexp.Compile(pattern)
				if err != nil {
					return fmt.Errorf("pattern %q does not compile: %w", pattern, err)
				}
				re, _ = patterns.LoadOrStore(pattern, c)
			}
			if !re.(*regexp.Regexp).MatchString(s) {
				return fmt.Errorf("%q does not match the pattern %s", s, pattern)
			}
		}
		if f.Type == schemas.TypePhone {
			if n := utf8.RuneCountInString(s); n > phoneMax || f.Max != nil && float64(n) > *f.Max {
				return fmt.Errorf("must be at most %d characters long", min(phoneMax, int(ptrOr(f.Max, phoneMax))))
			}
			return nil
		}
		plain := *f
		plain.Pattern = "" // matched above
		f = &plain
	}
	t, ok := schemas.LookupFieldType(f.Type)
	if !ok {
		return fmt.Errorf("unknown field type %q", f.Type)
	}
	return t.CheckValue(o, f, v)
}
