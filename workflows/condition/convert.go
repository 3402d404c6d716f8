package condition

import (
	"encoding/json"
	"math"
	"reflect"
	"time"
)

// Layouts of date strings that input maps may hold, tried in order. Fractional seconds are
// accepted after the seconds by every layout that has them (a rule of time.Parse).
var timeLayouts = []string{
	"2006-01-02 15:04:05Z07:00", // PocketBase's storage format: "2026-11-23 10:00:00.000Z"
	time.RFC3339,                // "2026-11-23T10:00:00Z", "2026-11-23T10:00:00.5+01:00"
	"2006-01-02 15:04:05",       // no zone: UTC
	"2006-01-02T15:04:05",       // no zone: UTC
	"2006-01-02",                // a date field: midnight UTC
}

// timer is a value that knows its time, such as PocketBase's types.DateTime.
type timer interface{ Time() time.Time }

// toTime converts a date value of an input map to a UTC time; anything else gives the zero time.
func toTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case *time.Time:
		if x != nil {
			return x.UTC()
		}
	case string:
		return parseTime(x)
	case timer:
		if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return time.Time{}
		}
		return x.Time().UTC()
	}
	return time.Time{}
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// toNumber converts a number of any Go numeric type to float64.
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// toList converts a multi-value (a []string, a []any of strings, or any other slice of
// strings) to a []string. A single non-empty string becomes a list of one; elements that are
// not strings are dropped.
func toList(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []any:
		l := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				l = append(l, s)
			}
		}
		return l
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil
	}
	l := make([]string, 0, rv.Len())
	for i := range rv.Len() {
		e := rv.Index(i)
		if e.Kind() == reflect.Interface {
			e = e.Elem()
		}
		if e.Kind() == reflect.String {
			l = append(l, e.String())
		}
	}
	return l
}

// maxJSONDepth bounds the nesting of json values, so a cyclic value cannot recurse forever.
const maxJSONDepth = 32

// toPlain turns the value of a json field into plain decoded JSON: nil, bool, float64, string,
// []any and map[string]any. Raw JSON bytes are decoded; other values are encoded and decoded
// again, so no host value (and none of its methods) reaches an expression.
func toPlain(v any, depth int) any {
	if depth > maxJSONDepth {
		return nil
	}
	switch x := v.(type) {
	case nil, string, bool:
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = toPlain(e, depth+1)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = toPlain(e, depth+1)
		}
		return l
	case []string:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = e
		}
		return l
	case []byte:
		return decodeJSON(x)
	case json.RawMessage:
		return decodeJSON(x)
	}
	if n, ok := toNumber(v); ok {
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil
		}
		return n
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
		return decodeJSON(rv.Bytes()) // PocketBase's types.JSONRaw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return decodeJSON(b)
}

func decodeJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return nil
	}
	return x
}
