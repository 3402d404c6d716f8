package condition

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/expr-lang/expr"
)

// helper is one function Relata adds to expr's built-ins.
type helper struct {
	name string
	sig  string // as users write it
	doc  string
	// hidden lists the environment names the compiler appends as extra arguments, so a
	// helper can read now or changed without reaching the environment.
	hidden []string
	fn     func(args ...any) (any, error)
	typ    any // *func(...) for type checking, hidden arguments included
}

const day = 24 * time.Hour

var helpers = append([]helper{
	{
		name: "daysSince", sig: "daysSince(t time.Time) float64",
		doc: "Fractional days from t to now (negative when t is in the future). " +
			"An empty date is infinitely long ago: +Inf, so daysSince(d) > 30 is true and daysSince(d) < 7 is false.",
		hidden: []string{nameNow},
		typ:    new(func(time.Time, time.Time) float64),
		fn: func(args ...any) (any, error) {
			t, now, err := twoTimes("daysSince", args)
			if err != nil {
				return nil, err
			}
			if t.IsZero() {
				return math.Inf(1), nil
			}
			return float64(now.Sub(t)) / float64(day), nil
		},
	},
	{
		name: "daysUntil", sig: "daysUntil(t time.Time) float64",
		doc: "Fractional days from now to t (negative when t is past). " +
			"An empty date is infinitely far ahead: +Inf, so daysUntil(d) < 7 is false.",
		hidden: []string{nameNow},
		typ:    new(func(time.Time, time.Time) float64),
		fn: func(args ...any) (any, error) {
			t, now, err := twoTimes("daysUntil", args)
			if err != nil {
				return nil, err
			}
			if t.IsZero() {
				return math.Inf(1), nil
			}
			return float64(t.Sub(now)) / float64(day), nil
		},
	},
	{
		name: "addDays", sig: "addDays(t time.Time, n float64) time.Time",
		doc: "t plus n days (n may be negative or fractional; whole days keep the time of day). " +
			"An empty date stays empty.",
		typ: new(func(time.Time, float64) time.Time),
		fn: func(args ...any) (any, error) {
			t, n, err := timeAndNumber("addDays", args)
			if err != nil || t.IsZero() {
				return t, err
			}
			whole, frac := math.Modf(n)
			return t.AddDate(0, 0, int(whole)).Add(time.Duration(frac * float64(day))), nil
		},
	},
	{
		name: "addHours", sig: "addHours(t time.Time, n float64) time.Time",
		doc: "t plus n hours (n may be negative or fractional). An empty date stays empty.",
		typ: new(func(time.Time, float64) time.Time),
		fn: func(args ...any) (any, error) {
			t, n, err := timeAndNumber("addHours", args)
			if err != nil || t.IsZero() {
				return t, err
			}
			return t.Add(time.Duration(n * float64(time.Hour))), nil
		},
	},
	{
		name: "startOfDay", sig: "startOfDay(t time.Time) time.Time",
		doc: "Midnight (UTC) of t's day. An empty date stays empty.",
		typ: new(func(time.Time) time.Time),
		fn: func(args ...any) (any, error) {
			t, err := timeArg("startOfDay", args, 0)
			if err != nil || t.IsZero() {
				return t, err
			}
			t = t.UTC()
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
		},
	},
	{
		name: "isEmpty", sig: "isEmpty(v any) bool",
		doc: "Whether v is empty the way PocketBase sees a blank field: nil, \"\", 0, false, " +
			"an empty date, or an empty list or map.",
		typ: new(func(any) bool),
		fn: func(args ...any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("isEmpty takes 1 argument, got %d", len(args))
			}
			return isEmpty(args[0]), nil
		},
	},
	{
		name: "isChanged", sig: "isChanged(field string) bool",
		doc: "Whether field is among the changed fields of this event (same as field in changed). " +
			"A literal field name must be a field of the object.",
		hidden: []string{nameChanged},
		typ:    new(func(string, []string) bool),
		fn: func(args ...any) (any, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("isChanged takes 1 argument, got %d", len(args)-1)
			}
			name, _ := args[0].(string)
			changed, _ := args[1].([]string)
			return slices.Contains(changed, name), nil
		},
	},
	{
		name: "repeat", sig: "repeat(s string, n int) string",
		doc:    "s repeated n times. The result counts against the evaluation's text budget (1 MiB).",
		hidden: []string{nameBudget},
		typ:    new(func(string, float64, *budget) string),
		fn:     boundedRepeat,
	},
	{
		name: "replace", sig: "replace(s, old, new string) string",
		doc:    "s with every old replaced by new. The result counts against the evaluation's text budget (1 MiB).",
		hidden: []string{nameBudget},
		typ:    new(func(string, string, string, *budget) string),
		fn:     boundedReplace,
	},
	{
		name: "join", sig: "join(list []string, sep string) string",
		doc:    "The strings of list joined by sep. The result counts against the evaluation's text budget (1 MiB).",
		hidden: []string{nameBudget},
		typ:    new(func(any, string, *budget) string),
		fn:     boundedJoin,
	},
}, factHelpers...)

// Rewritten by the compiler into plain expressions; listed for [Variables] and the docs.
var macros = []helper{
	{
		name: "changedFrom", sig: "changedFrom(field string, value any) bool",
		doc: "Whether field changed and its old value was value: isChanged(field) && old.field == value. " +
			"field must be a literal name of a single-value field.",
	},
	{
		name: "changedTo", sig: "changedTo(field string, value any) bool",
		doc: "Whether field changed and its new value is value: isChanged(field) && record.field == value. " +
			"field must be a literal name of a single-value field.",
	},
}

// helperOptions declares the helpers to expr.
var helperOptions = func() []expr.Option {
	opts := make([]expr.Option, len(helpers))
	for i, h := range helpers {
		opts[i] = expr.Function(h.name, h.fn, h.typ)
	}
	return opts
}()

func lookupHelper(name string) (helper, bool) {
	for _, h := range helpers {
		if h.name == name {
			return h, true
		}
	}
	return helper{}, false
}

// timeArg returns argument i as a time. Type checking makes it a time.Time unless it came
// from a json field, so nil counts as an empty date and anything else is an error.
func timeArg(fn string, args []any, i int) (time.Time, error) {
	if i >= len(args) {
		return time.Time{}, fmt.Errorf("%s: missing argument %d", fn, i+1)
	}
	switch t := args[i].(type) {
	case time.Time:
		return t, nil
	case nil:
		return time.Time{}, nil
	}
	return time.Time{}, fmt.Errorf("%s: argument %d must be a date, not %s", fn, i+1, typeName(args[i]))
}

func twoTimes(fn string, args []any) (time.Time, time.Time, error) {
	t, err := timeArg(fn, args, 0)
	if err != nil {
		return t, t, err
	}
	now, err := timeArg(fn, args, 1)
	return t, now, err
}

func timeAndNumber(fn string, args []any) (time.Time, float64, error) {
	t, err := timeArg(fn, args, 0)
	if err != nil {
		return t, 0, err
	}
	if len(args) < 2 {
		return t, 0, fmt.Errorf("%s: missing argument 2", fn)
	}
	n, ok := toNumber(args[1])
	if !ok {
		return t, 0, fmt.Errorf("%s: argument 2 must be a number, not %s", fn, typeName(args[1]))
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return t, 0, fmt.Errorf("%s: argument 2 must be a finite number", fn)
	}
	return t, n, nil
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case time.Time:
		return x.IsZero()
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	if n, ok := toNumber(v); ok {
		return n == 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return rv.Len() == 0
	}
	return false
}

// typeName names the type of v the way expr's messages do.
func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}
