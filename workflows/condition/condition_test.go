package condition_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/condition"
)

func TestEval(t *testing.T) {
	obj := kitchen()
	full := map[string]any{
		"id":     "k1",
		"title":  "Hello World",
		"notes":  "long\ntext",
		"body":   "<p>rich</p>",
		"score":  7,
		"price":  120.5,
		"active": true,
		"due":    "2026-12-01",
		"met_at": "2026-11-20 08:30:00.000Z",
		"email":  "ana@example.com",
		"phone":  "+49 30 123",
		"site":   "https://example.com",
		"kind":   "b",
		"labels": []any{"vip", 42},
		"tags":   []string{"red", "green"},

		"price_currency": "EUR",
		"company":        "c1",
		"contacts":       []string{"p1", "p2"},
		"owner":          "u1",
		"stage":          "done",
		"logo":           "logo.png",
		"docs":           []string{"a.pdf"},
		"meta":           map[string]any{"plan": "pro", "seats": 5, "flags": []any{"beta"}},
		"created":        pbDate{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		"updated":        time.Date(2026, 11, 23, 9, 0, 0, 0, time.FixedZone("CET", 3600)),
		"last_touched":   "2026-11-13T10:00:00Z",
	}
	old := map[string]any{"stage": "open", "score": 3.0, "title": "Hello World", "active": false, "kind": "a"}
	user := condition.User{ID: "u1", Email: "ana@example.com", Name: "Ana", Role: "sales", Team: "north"}
	update := condition.Input{Record: full, Old: old, Changed: []string{"stage", "score", "active"}, User: user, Now: now, Event: "update"}
	create := condition.Input{Record: full, Changed: []string{"title"}, Now: now, Event: "create"}

	tests := []struct {
		name string
		src  string
		in   condition.Input
		want bool
	}{
		// text-like
		{name: "text equal", src: `record.title == "Hello World"`, in: update, want: true},
		{name: "text builtins", src: `lower(record.title) startsWith "hello" && upper(record.title) contains "WORLD"`, in: update, want: true},
		{name: "text not equal", src: `record.title == "hello world"`, in: update, want: false},
		{name: "longtext", src: `record.notes contains "\n"`, in: update, want: true},
		{name: "richtext", src: `record.body matches "^<p>"`, in: update, want: true},
		{name: "email", src: `record.email endsWith "@example.com"`, in: update, want: true},
		{name: "phone", src: `hasPrefix(record.phone, "+49")`, in: update, want: true},
		{name: "url", src: `record.site startsWith "http://"`, in: update, want: false},
		{name: "text len and trim", src: `len(trim("  " + record.title)) == 11`, in: update, want: true},
		// numbers
		{name: "number from int", src: `record.score == 7 && record.score > 6.5`, in: update, want: true},
		{name: "number false", src: `record.score < 7`, in: update, want: false},
		{name: "currency", src: `record.price > 100 && record.price_currency == "EUR"`, in: update, want: true},
		{name: "number arithmetic", src: `record.price * 2 - record.score == 234`, in: update, want: true},
		// booleans
		{name: "boolean true", src: `record.active`, in: update, want: true},
		{name: "boolean not", src: `not record.active`, in: update, want: false},
		{name: "boolean missing", src: `record.active`, in: condition.Input{Now: now}, want: false},
		// dates
		{name: "date string", src: `record.due == date("2026-12-01")`, in: update, want: true},
		{name: "datetime PocketBase layout", src: `record.met_at == date("2026-11-20T08:30:00Z")`, in: update, want: true},
		{name: "date Time method", src: `record.created.Day() == 1 && record.created < now`, in: update, want: true},
		{name: "date time.Time in another zone", src: `record.updated == addHours(startOfDay(now), 8)`, in: update, want: true},
		{name: "date RFC 3339", src: `daysSince(record.last_touched) == 10`, in: update, want: true},
		{name: "date after", src: `record.due > now`, in: update, want: true},
		// choices and lists
		{name: "select in", src: `record.kind in ["b", "c"]`, in: update, want: true},
		{name: "select not in", src: `record.kind not in ["b", "c"]`, in: update, want: false},
		{name: "select multiple from []any", src: `"vip" in record.labels && len(record.labels) == 1`, in: update, want: true},
		{name: "tags", src: `"green" in record.tags and not ("blue" in record.tags)`, in: update, want: true},
		{name: "tags any", src: `any(record.tags, # startsWith "gr")`, in: update, want: true},
		{name: "relation single", src: `record.company == "c1"`, in: update, want: true},
		{name: "relation multiple", src: `len(record.contacts) == 2 && record.contacts[0] == "p1"`, in: update, want: true},
		{name: "owner is user", src: `record.owner == user.id`, in: update, want: true},
		{name: "stage", src: `record.stage == "done"`, in: update, want: true},
		{name: "file single", src: `record.logo endsWith ".png"`, in: update, want: true},
		{name: "file multiple", src: `"a.pdf" in record.docs`, in: update, want: true},
		// json
		{name: "json member", src: `record.meta.plan == "pro" && record.meta.seats >= 5`, in: update, want: true},
		{name: "json list", src: `"beta" in record.meta.flags`, in: update, want: true},
		{name: "json missing key", src: `record.meta?.missing == nil`, in: update, want: true},
		{name: "json bytes", src: `record.meta.plan == "free"`, in: condition.Input{Record: map[string]any{"meta": []byte(`{"plan":"free"}`)}}, want: true},
		{name: "json raw message", src: `record.meta[0] == 1`, in: condition.Input{Record: map[string]any{"meta": json.RawMessage(`[1,2]`)}}, want: true},
		// system fields
		{name: "id", src: `record.id == "k1"`, in: update, want: true},
		// old vs new
		{name: "old differs", src: `old.stage == "open" && record.stage == "done"`, in: update, want: true},
		{name: "old number", src: `record.score - old.score == 4`, in: update, want: true},
		{name: "old zero on create", src: `old.stage == "" && old.score == 0 && isEmpty(old.due) && !old.active`, in: create, want: true},
		// changed
		{name: "isChanged", src: `isChanged("stage")`, in: update, want: true},
		{name: "isChanged false", src: `isChanged("title")`, in: update, want: false},
		{name: "isChanged dynamic", src: `any(["kind", "score"], isChanged(#))`, in: update, want: true},
		{name: "changed list", src: `len(changed) == 3 && "active" in changed`, in: update, want: true},
		{name: "changedTo", src: `changedTo("stage", "done")`, in: update, want: true},
		{name: "changedTo other value", src: `changedTo("stage", "open")`, in: update, want: false},
		{name: "changedFrom", src: `changedFrom("stage", "open") && changedFrom("score", 3)`, in: update, want: true},
		{name: "changedFrom unchanged field", src: `changedFrom("kind", "a")`, in: update, want: false},
		// user and event
		{name: "user role", src: `user.role == "sales" && user.team == "north" && user.email contains "@"`, in: update, want: true},
		{name: "user role manager", src: `user.role in ["admin", "manager"]`, in: update, want: false},
		{name: "system run has no user", src: `user.id == "" && user.role == ""`, in: create, want: true},
		{name: "event", src: `event == "update"`, in: update, want: true},
		{name: "event create", src: `event == "update"`, in: create, want: false},
		// now and date helpers
		{name: "now", src: `now == date("2026-11-23T10:00:00Z") && now.Weekday().String() == "Monday"`, in: update, want: true},
		{name: "daysSince fractional", src: `daysSince(record.met_at) > 3.05 && daysSince(record.met_at) < 3.07`, in: update, want: true},
		{name: "daysUntil", src: `daysUntil(record.due) > 7 && daysUntil(record.due) < 8`, in: update, want: true},
		{name: "daysSince empty date is +Inf", src: `daysSince(record.due) > 30 && !(daysSince(record.due) < 7)`, in: condition.Input{Now: now}, want: true},
		{name: "daysUntil empty date is +Inf", src: `daysUntil(record.due) < 14`, in: condition.Input{Now: now}, want: false},
		{name: "addDays", src: `addDays(now, 8) > record.due && addDays(now, -1) < now`, in: update, want: true},
		{name: "addDays fractional", src: `addDays(now, 0.5) == addHours(now, 12)`, in: update, want: true},
		{name: "addDays int expression", src: `addDays(now, len(record.tags)) == date("2026-11-25T10:00:00Z")`, in: update, want: true},
		{name: "addDays empty stays empty", src: `isEmpty(addDays(record.due, 3))`, in: condition.Input{Now: now}, want: true},
		{name: "startOfDay", src: `startOfDay(now) == date("2026-11-23")`, in: update, want: true},
		// isEmpty
		{name: "isEmpty text", src: `isEmpty(record.title)`, in: condition.Input{}, want: true},
		{name: "isEmpty text set", src: `isEmpty(record.title)`, in: update, want: false},
		{name: "isEmpty number zero", src: `isEmpty(record.score)`, in: condition.Input{}, want: true},
		{name: "isEmpty list", src: `isEmpty(record.tags) && !isEmpty(old.stage)`, in: condition.Input{Old: old}, want: true},
		{name: "isEmpty json", src: `isEmpty(record.meta) && !isEmpty([1])`, in: condition.Input{}, want: true},
		// expr's language
		{name: "let and ternary", src: `let big = record.price > 100; big ? record.kind == "b" : false`, in: update, want: true},
		{name: "nil coalescing on json", src: `(record.meta?.nope ?? "x") == "x"`, in: update, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.Compile(obj, tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			got, err := p.Eval(tt.in)
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.src, err)
			}
			if got != tt.want {
				t.Errorf("Eval(%q) = %v; want %v", tt.src, got, tt.want)
			}
		})
	}
}

func TestEvalDeals(t *testing.T) {
	deals := defaultObject(t, "deals")
	in := dealInput()
	tests := []struct {
		name string
		src  string
		want bool
	}{
		{name: "typical", src: `record.stage == "won" && record.amount > 10000`, want: true},
		{name: "won by its owner", src: `changedTo("stage", "won") && record.owner == user.id`, want: true},
		{name: "closing soon", src: `daysUntil(record.expected_close) <= 7 && record.stage not in ["won", "lost"]`, want: false},
		{name: "big referral", src: `record.source == "referral" && record.amount >= 25000 && record.amount_currency == "EUR"`, want: true},
		{name: "has contacts", src: `len(record.contacts) > 1`, want: true},
		{name: "not touched", src: `daysSince(record.last_touched) > 30`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.Compile(deals, tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			if got, err := p.Eval(in); err != nil || got != tt.want {
				t.Errorf("Eval(%q) = %v, %v; want %v, nil", tt.src, got, err, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	deals := defaultObject(t, "deals")
	tests := []struct {
		name         string
		src          string
		line, column int
		message      string // a part of the message
	}{
		{name: "unknown field", src: `record.amout > 10000`, line: 1, column: 8, message: `unknown field "amout" of deals (did you mean "amount"?)`},
		{name: "unknown field of old on line 2", src: "record.stage == \"won\" &&\n  old.stagee != \"won\"", line: 2, column: 7, message: `unknown field "stagee" of deals (did you mean "stage"?)`},
		{name: "unknown field by index", src: `record["nope"] == 1`, line: 1, column: 8, message: `unknown field "nope" of deals`},
		{name: "unknown user field", src: `user.rol == "admin"`, line: 1, column: 6, message: `unknown field "rol" of user (did you mean "role"?)`},
		{name: "unknown name", src: `recrd.stage == "won"`, line: 1, column: 1, message: `unknown name recrd`},
		{name: "number compared with string", src: `record.amount > "10000"`, line: 1, column: 15, message: `invalid operation: > (mismatched types float64 and string)`},
		{name: "number equal to string", src: `record.stage == "won" && record.amount == "big"`, line: 1, column: 40, message: `mismatched types float64 and string`},
		{name: "date compared with number", src: `record.expected_close > 5`, line: 1, column: 23, message: `mismatched types time.Time and int`},
		{name: "syntax error", src: `record.stage == "won" &&`, line: 1, column: 24, message: `unexpected token EOF`},
		{name: "syntax error unclosed string", src: "record.stage ==\n \"won", line: 2, column: 6, message: `literal not terminated`},
		{name: "not a condition", src: `record.amount * 2`, line: 1, column: 1, message: `a condition must be true or false (bool), but the expression gives float64`},
		{name: "string not a condition", src: `record.stage`, line: 1, column: 1, message: `gives string`},
		{name: "isChanged unknown field", src: `isChanged("stag")`, line: 1, column: 11, message: `unknown field "stag" of deals (did you mean "stage"?)`},
		{name: "isChanged arity", src: `isChanged("stage", changed)`, line: 1, column: 1, message: `isChanged takes 1 argument, got 2`},
		{name: "isChanged type", src: `isChanged(1)`, line: 1, column: 11, message: `cannot use int as argument (type string)`},
		{name: "daysSince of a string", src: `daysSince(record.name) > 1`, line: 1, column: 18, message: `cannot use string as argument (type time.Time)`},
		{name: "daysSince arity", src: `daysSince() > 1`, line: 1, column: 1, message: `daysSince takes 1 argument, got 0`},
		{name: "changedTo needs a literal field", src: `changedTo(record.name, "x")`, line: 1, column: 18, message: `changedTo needs a field name in quotes`},
		{name: "changedTo on a list", src: `changedTo("contacts", "p1")`, line: 1, column: 11, message: `contacts is a list`},
		{name: "changedFrom type mismatch", src: `changedFrom("amount", "big")`, line: 1, column: 1, message: `mismatched types float64 and string`},
		{name: "now is not a function", src: `now() > record.created`, line: 1, column: 1, message: `now is a time, not a function`},
		{name: "reserved name", src: `let record = 1; record > 0`, line: 1, column: 5, message: `cannot declare record`},
		{name: "unknown function", src: `system("ls") == ""`, line: 1, column: 1, message: `unknown name system`},
		{name: "no methods on strings", src: `record.name.Len() > 0`, line: 1, column: 13, message: `type string has no method Len`},
		{name: "no methods on user", src: `user.String() == ""`, line: 1, column: 6, message: `unknown field "String" of user`},
		{name: "no methods on lists", src: `record.contacts.Len() > 0`, line: 1, column: 17, message: `array elements can only be selected using an integer`},
		{name: "struct types read as names", src: `record + 1 > 0`, line: 1, column: 8, message: `mismatched types record and int`},
		{name: "empty", src: "  ", line: 1, column: 1, message: `expression is empty`},
		{name: "too long", src: strings.Repeat(" ", 4090) + `true && true`, line: 1, column: 4097, message: `longer than 4096 bytes`},
		{name: "too many nodes", src: strings.Repeat("1+", 1100) + "1 > 0", message: `exceeds maximum allowed nodes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.Compile(deals, tt.src)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, nil; want an error", tt.src, p.Source())
			}
			var e *condition.Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile(%q) error %T %v; want *condition.Error", tt.src, err, err)
			}
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("Compile(%q) message %q; want it to contain %q", tt.src, e.Message, tt.message)
			}
			if tt.line != 0 && (e.Line != tt.line || e.Column != tt.column) {
				t.Errorf("Compile(%q) at %d:%d; want %d:%d (%v)", tt.src, e.Line, e.Column, tt.line, tt.column, e)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	deals := defaultObject(t, "deals")
	_, err := condition.Compile(deals, "record.stage == \"won\" &&\n\trecord.amout > 10000")
	want := &condition.Error{
		Line:    2,
		Column:  9,
		Message: `unknown field "amout" of deals (did you mean "amount"?)`,
		Snippet: " record.amout > 10000\n        ^",
	}
	var got *condition.Error
	if !errors.As(err, &got) || *got != *want {
		t.Fatalf("Compile() error = %#v; want %#v", err, want)
	}
	if s, w := got.Error(), `2:9: unknown field "amout" of deals (did you mean "amount"?)`; s != w {
		t.Errorf("Error() = %q; want %q", s, w)
	}
}

func TestCompileNilObject(t *testing.T) {
	if _, err := condition.Compile(nil, "true"); err == nil {
		t.Error("Compile(nil, ...) = nil error; want an error")
	}
}

func TestCompileValue(t *testing.T) {
	obj := kitchen()
	field := func(name string) *schemas.Field {
		if f := obj.Field(name); f != nil {
			return f
		}
		t.Fatalf("no field %q", name)
		return nil
	}
	in := condition.Input{
		Record: map[string]any{"title": "Deal", "score": 2, "tags": []string{"a"}, "due": "2026-12-01", "meta": map[string]any{"n": 3, "s": "x", "l": []any{"p", "q"}}},
		Now:    now,
	}
	tests := []struct {
		name    string
		want    *schemas.Field // nil: any value
		src     string
		compile string // a part of the compile error, "" when it compiles
		run     string // a part of the Run error, "" when it runs
		value   any
	}{
		{name: "date for date field", want: field("due"), src: `addDays(now, 7)`, value: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)},
		{name: "date for datetime field", want: field("met_at"), src: `startOfDay(record.due)`, value: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{name: "string for date field", want: field("due"), src: `"2026-12-01"`, compile: "field due needs a date (time.Time), but the expression gives string"},
		{name: "number for number field", want: field("score"), src: `record.score * 10`, value: 20.0},
		{name: "int for currency field", want: field("price"), src: `100`, value: 100.0},
		{name: "string for number field", want: field("score"), src: `record.title`, compile: "field score needs a number, but the expression gives string"},
		{name: "string for text field", want: field("title"), src: `upper(record.title) + "!"`, value: "DEAL!"},
		{name: "number for text field", want: field("title"), src: `record.score`, compile: "field title needs a string"},
		{name: "string for select", want: field("kind"), src: `record.score > 1 ? "a" : "b"`, value: "a"},
		{name: "bool for boolean", want: field("active"), src: `record.score > 1`, value: true},
		{name: "string for boolean", want: field("active"), src: `"yes"`, compile: "field active needs true or false"},
		{name: "list for tags", want: field("tags"), src: `concat(record.tags, ["b"])`, value: []string{"a", "b"}},
		{name: "list literal for multi relation", want: field("contacts"), src: `["p1", "p2"]`, value: []string{"p1", "p2"}},
		{name: "string for multi select", want: field("labels"), src: `"vip"`, value: []string{"vip"}},
		{name: "number for list", want: field("tags"), src: `1`, compile: "field tags needs a list of strings"},
		{name: "list of numbers for list", want: field("tags"), src: `[1, 2]`, run: "a list holding int"},
		{name: "anything for json", want: field("meta"), src: `{"a": record.score}`, value: map[string]any{"a": 2.0}},
		{name: "json number for number field", want: field("score"), src: `record.meta.n`, value: 3.0},
		{name: "json string for number field", want: field("score"), src: `record.meta.s`, run: "field score needs a number, but \"record.meta.s\" gave string"},
		{name: "json list for list field", want: field("tags"), src: `record.meta.l`, value: []string{"p", "q"}},
		{name: "currency code column", want: &schemas.Field{Name: "price" + schemas.CurrencySuffix, Type: schemas.TypeText}, src: `"USD"`, value: "USD"},
		{name: "infinite number", want: field("score"), src: `daysSince(record.met_at)`, run: "needs a finite number"},
		{name: "no field: any value", src: `record.tags`, value: []string{"a"}},
		{name: "no field: unknown field still an error", src: `record.nope`, compile: `unknown field "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.CompileValue(obj, tt.src, tt.want)
			if tt.compile != "" {
				if err == nil || !strings.Contains(err.Error(), tt.compile) {
					t.Fatalf("CompileValue(%q) error = %v; want one containing %q", tt.src, err, tt.compile)
				}
				return
			}
			if err != nil {
				t.Fatalf("CompileValue(%q): %v", tt.src, err)
			}
			got, err := p.Run(in)
			if tt.run != "" {
				if err == nil || !strings.Contains(err.Error(), tt.run) {
					t.Fatalf("Run(%q) = %v, %v; want an error containing %q", tt.src, got, err, tt.run)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run(%q): %v", tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.value) {
				t.Errorf("Run(%q) = %#v; want %#v", tt.src, got, tt.value)
			}
		})
	}
}

// TestInputConversion reads each field back through an expression to see how input values
// of every shape convert.
func TestInputConversion(t *testing.T) {
	obj := kitchen()
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var nilDate *pbDate
	tests := []struct {
		name  string
		field string
		raw   any // nil: the key is missing
		want  any
	}{
		{name: "missing text", field: "title", want: ""},
		{name: "missing number", field: "score", want: 0.0},
		{name: "missing bool", field: "active", want: false},
		{name: "missing date", field: "due", want: time.Time{}},
		{name: "missing list", field: "tags", want: []string(nil)},
		{name: "missing json", field: "meta", want: nil},
		{name: "number for text", field: "title", raw: 12, want: ""},
		{name: "string for number", field: "score", raw: "12", want: 0.0},
		{name: "int64 number", field: "score", raw: int64(12), want: 12.0},
		{name: "uint8 number", field: "score", raw: uint8(12), want: 12.0},
		{name: "float32 number", field: "score", raw: float32(1.5), want: 1.5},
		{name: "json.Number", field: "score", raw: json.Number("2.5"), want: 2.5},
		{name: "string for bool", field: "active", raw: "true", want: false},
		{name: "PocketBase date", field: "met_at", raw: "2026-11-23 10:00:00.000Z", want: at},
		{name: "PocketBase date without millis", field: "met_at", raw: "2026-11-23 10:00:00Z", want: at},
		{name: "RFC 3339 with offset", field: "met_at", raw: "2026-11-23T11:00:00+01:00", want: at},
		{name: "date only", field: "due", raw: "2026-11-23", want: day},
		{name: "no zone", field: "met_at", raw: "2026-11-23 10:00:00", want: at},
		{name: "empty date string", field: "due", raw: "", want: time.Time{}},
		{name: "bad date string", field: "due", raw: "next tuesday", want: time.Time{}},
		{name: "time.Time in another zone", field: "met_at", raw: at.In(time.FixedZone("X", -5*3600)), want: at},
		{name: "*time.Time", field: "met_at", raw: &at, want: at},
		{name: "value with Time method", field: "met_at", raw: pbDate{at}, want: at},
		{name: "nil pointer with Time method", field: "met_at", raw: nilDate, want: time.Time{}},
		{name: "number for date", field: "due", raw: 20261123, want: time.Time{}},
		{name: "[]any list", field: "tags", raw: []any{"a", 1, "b", nil}, want: []string{"a", "b"}},
		{name: "single string for list", field: "labels", raw: "vip", want: []string{"vip"}},
		{name: "named slice for list", field: "docs", raw: namedList{"x.pdf"}, want: []string{"x.pdf"}},
		{name: "number for list", field: "tags", raw: 3, want: []string(nil)},
		{name: "list for single select", field: "kind", raw: []string{"a"}, want: ""},
		{name: "json ints become floats", field: "meta", raw: map[string]any{"n": 1, "l": []int{1, 2}}, want: map[string]any{"n": 1.0, "l": []any{1.0, 2.0}}},
		{name: "json host struct becomes plain data", field: "meta", raw: secret{Password: "p"}, want: map[string]any{"Password": "p"}},
		{name: "json invalid bytes", field: "meta", raw: []byte("{nope"), want: nil},
		{name: "json unencodable value", field: "meta", raw: func() {}, want: nil},
		{name: "json NaN", field: "meta", raw: math.NaN(), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.CompileValue(obj, "record."+tt.field, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := map[string]any{}
			if tt.raw != nil {
				rec[tt.field] = tt.raw
			}
			got, err := p.Run(condition.Input{Record: rec})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("record.%s from %#v = %#v; want %#v", tt.field, tt.raw, got, tt.want)
			}
		})
	}
}

type namedList []string

// TestNoHostAccess checks that expressions reach plain data only: no method or field of a
// host value, even one smuggled in through the input maps.
func TestNoHostAccess(t *testing.T) {
	obj := kitchen()
	in := condition.Input{
		Record: map[string]any{
			"title": secret{Password: "hunter2"}, // a host value where a string belongs
			"meta":  map[string]any{"s": secret{Password: "hunter2"}},
			"tags":  []any{secret{Password: "hunter2"}},
		},
	}
	tests := []struct {
		name    string
		src     string
		compile string // a part of the compile error
		run     string // a part of the run error
		value   any
	}{
		{name: "method of a value in a json field", src: `record.meta.s.Reveal()`, run: "cannot call nil"},
		{name: "method through the environment", src: `$env.record.meta.s.Reveal()`, run: "cannot call nil"},
		{name: "json value is plain data", src: `record.meta.s`, value: map[string]any{"Password": "hunter2"}},
		{name: "field of a host value where a string belongs", src: `record.title.Password`, compile: "type string has no field Password"},
		{name: "host values where strings belong read empty", src: `record.title + join(record.tags, ",")`, value: ""},
		{name: "function not provided", src: `env("HOME")`, compile: "unknown name env"},
		{name: "no method on the environment", src: `$env.Reveal()`, compile: "unknown name Reveal"},
		{name: "no method on the user", src: `user.Reveal()`, compile: `unknown field "Reveal" of user`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.CompileValue(obj, tt.src, nil)
			if tt.compile != "" {
				if err == nil || !strings.Contains(err.Error(), tt.compile) {
					t.Fatalf("CompileValue(%q) error = %v; want one containing %q", tt.src, err, tt.compile)
				}
				return
			}
			if err != nil {
				t.Fatalf("CompileValue(%q): %v", tt.src, err)
			}
			got, err := p.Run(in)
			if tt.run != "" {
				if err == nil || !strings.Contains(err.Error(), tt.run) {
					t.Fatalf("Run(%q) = %#v, %v; want an error containing %q", tt.src, got, err, tt.run)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.value) {
				t.Errorf("Run(%q) = %#v, %v; want %#v, nil", tt.src, got, err, tt.value)
			}
		})
	}
}

// TestEvalNeverPanics feeds values and expressions that make Go code panic or run away.
func TestEvalNeverPanics(t *testing.T) {
	obj := kitchen()
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name string
		src  string
		in   condition.Input
		err  string // a part of the error; "" when Eval gives want
		want bool
	}{
		{name: "Time method panics", src: `record.due < now`, in: condition.Input{Record: map[string]any{"due": panicDate{}}}, err: "boom"},
		{name: "cyclic json is cut", src: `record.meta.self.self.self != nil`, in: condition.Input{Record: map[string]any{"meta": cyclic}}, want: true},
		{name: "index out of range", src: `record.tags[5] == "x"`, in: condition.Input{}, err: "1:12: index out of range"},
		{name: "division by zero", src: `1 / record.score > 0`, in: condition.Input{}, want: true},
		{name: "json not a bool", src: `record.meta.flag`, in: condition.Input{Record: map[string]any{"meta": map[string]any{"flag": "yes"}}}, err: "gave string, not true or false"},
		{name: "json nil", src: `record.meta`, in: condition.Input{}, err: "gave nil"},
		{name: "date helper on json string", src: `daysSince(record.meta.when) > 1`, in: condition.Input{Record: map[string]any{"meta": map[string]any{"when": "2026-01-01"}}}, err: "daysSince: argument 1 must be a date, not string"},
		{name: "computed huge range", src: `len(1..(int(record.score) * 100000000)) > 0`, in: condition.Input{Record: map[string]any{"score": 1}}, err: "memory budget exceeded"},
		{name: "huge repeat", src: `len(repeat("x", 10000000)) > 0`, in: condition.Input{}, err: "evaluation budget exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.Compile(obj, tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.src, err)
			}
			got, err := p.Eval(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Eval(%q) = %v, %v; want an error containing %q", tt.src, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Eval(%q) = %v, %v; want %v, nil", tt.src, got, err, tt.want)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	deals := defaultObject(t, "deals")
	vars := condition.Variables(deals)
	byName := map[string]condition.Variable{}
	for _, v := range vars {
		if _, dup := byName[v.Name]; dup {
			t.Errorf("Variables() lists %q twice", v.Name)
		}
		byName[v.Name] = v
	}
	tests := []struct {
		name     string
		typ      string
		doc      string // a part of the doc
		function bool
	}{
		{name: "record.amount", typ: "float64", doc: "Amount (currency)"},
		{name: "record.amount_currency", typ: "string", doc: "ISO 4217"},
		{name: "record.stage", typ: "string", doc: "lead, qualified, proposal, negotiation, won, lost"},
		{name: "record.source", typ: "string", doc: "website, referral"},
		{name: "record.contacts", typ: "[]string", doc: "multiple"},
		{name: "record.expected_close", typ: "time.Time", doc: "Expected close date"},
		{name: "record.id", typ: "string"},
		{name: "record.last_touched", typ: "time.Time"},
		{name: "old.stage", typ: "string", doc: "Before the event"},
		{name: "changed", typ: "[]string"},
		{name: "user.role", typ: "string", doc: "admin, manager or sales"},
		{name: "now", typ: "time.Time"},
		{name: "event", typ: "string"},
		{name: "daysSince", typ: "daysSince(t time.Time) float64", doc: "+Inf", function: true},
		{name: "isChanged", typ: "isChanged(field string) bool", function: true},
		{name: "changedTo", typ: "changedTo(field string, value any) bool", function: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := byName[tt.name]
			if !ok {
				t.Fatalf("Variables() has no %q", tt.name)
			}
			if v.Type != tt.typ || !strings.Contains(v.Doc, tt.doc) || v.Function != tt.function {
				t.Errorf("Variables()[%q] = %+v; want type %q, doc containing %q, function %v", tt.name, v, tt.typ, tt.doc, tt.function)
			}
		})
	}
	// Every variable listed compiles in an expression.
	for _, v := range vars {
		if v.Function {
			continue
		}
		if _, err := condition.CompileValue(deals, v.Name, nil); err != nil {
			t.Errorf("CompileValue(%q): %v", v.Name, err)
		}
	}
}

// TestSharedShape compiles for two objects with the same fields and different labels: the
// programs share the environment type, the variables keep each object's labels.
func TestSharedShape(t *testing.T) {
	a := defaultObject(t, "deals")
	b := a.Clone()
	b.Name = "opportunities"
	b.Fields[0].Label = "Opportunity"
	for _, obj := range []*schemas.Object{a, b} {
		if _, err := condition.Compile(obj, `record.nam == ""`); err == nil || !strings.Contains(err.Error(), "of "+obj.Name) {
			t.Errorf("Compile for %s: error %v; want one naming %s", obj.Name, err, obj.Name)
		}
	}
	if got := condition.Variables(b)[1].Doc; !strings.HasPrefix(got, "Opportunity") {
		t.Errorf("Variables(b)[1].Doc = %q; want the label of b", got)
	}
}

// TestConcurrentEval runs one program from many goroutines (run with -race).
func TestConcurrentEval(t *testing.T) {
	deals := defaultObject(t, "deals")
	p, err := condition.Compile(deals, `record.amount > 100 && isChanged("stage") && user.role == "sales"`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				amount := float64(i*1000 + j)
				in := condition.Input{Record: map[string]any{"amount": amount}, Changed: []string{"stage"}, User: condition.User{Role: "sales"}}
				got, err := p.Eval(in)
				if want := amount > 100; err != nil || got != want {
					t.Errorf("Eval(amount %v) = %v, %v; want %v", amount, got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSource(t *testing.T) {
	src := `record.stage == "won"`
	p, err := condition.Compile(defaultObject(t, "deals"), src)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source() != src {
		t.Errorf("Source() = %q; want %q", p.Source(), src)
	}
}
