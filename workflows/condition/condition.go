package condition

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/relata/relata/schemas"
)

// Limits on expressions.
const (
	// MaxSourceLen is the longest source accepted, in bytes.
	MaxSourceLen = 4096
	// MaxNodes is the largest syntax tree accepted, in nodes (literals, names, operators, calls).
	MaxNodes = 1000
)

// Input is what one evaluation sees: the event that happened to a record.
type Input struct {
	// Record holds the record's values after the event, by column name ("amount",
	// "amount_currency", "created"). Values are plain: string, float64 or any Go number, bool,
	// dates as time.Time, as a value with a Time() time.Time method (PocketBase's
	// types.DateTime) or as a string ("2026-11-23 10:00:00.000Z", RFC 3339, "2026-11-23"),
	// lists as []string or []any. A missing key, nil or a value of the wrong type reads as the
	// zero value of the field.
	Record map[string]any
	// Old holds the values before the event, like Record; nil on create.
	Old map[string]any
	// Changed lists the names of the columns whose values the event changed.
	Changed []string
	// User is the user who caused the event; zero for system and scheduled runs.
	User User
	// Now is the time of the evaluation; helpers such as daysSince measure from it. It is read as UTC.
	Now time.Time
	// Event names what happened: "create", "update", "delete", "schedule", "form", "manual", ...
	Event string
	// Item holds the values of the current item of a for_each, like Record, for programs
	// compiled with an item object ([CompileFor]); other programs ignore it.
	Item map[string]any
	// Facts answers inSegment, replied and unsubscribed for the record; nil: they fail.
	Facts Facts
}

// User is the acting user as expressions see it (user.id, user.email, user.name, user.role,
// user.team).
type User struct {
	ID, Email, Name, Role, Team string
}

// Program is a compiled expression, ready to evaluate many times. It is safe for concurrent use.
type Program struct {
	src   string
	shape *shape
	prog  *vm.Program
	fills []fill
	cond  bool
	want  *schemas.Field
}

// Compile type-checks src as a condition about records of obj: an expression that gives true
// or false. Every problem, such as an unknown field or comparing a number with a string, is
// an *[Error] with its position.
func Compile(obj *schemas.Object, src string) (*Program, error) {
	return compile(obj, nil, src, true, nil)
}

// CompileFor is [Compile] inside a for_each over records of item: the expression also sees
// item, the current item, with item's columns. A nil item is [Compile].
func CompileFor(obj, item *schemas.Object, src string) (*Program, error) {
	return compile(obj, item, src, true, nil)
}

// CompileValueFor is [CompileValue] inside a for_each over records of item (see [CompileFor]).
func CompileValueFor(obj, item *schemas.Object, src string, want *schemas.Field) (*Program, error) {
	return compile(obj, item, src, false, want)
}

// CompileValue type-checks src as an expression that gives a value, as in "set field to
// <expr>". When want is not nil the value must fit the field: a number for a number or
// currency field, a string for text-like, select, stage, relation and owner fields, a bool
// for a boolean, a time.Time for a date, a list (or a single string) for a multiple field,
// anything for json. want need not be a field of obj; it may describe a column such as
// "amount_currency" (type text).
func CompileValue(obj *schemas.Object, src string, want *schemas.Field) (*Program, error) {
	return compile(obj, nil, src, false, want)
}

func compile(obj, item *schemas.Object, src string, cond bool, want *schemas.Field) (*Program, error) {
	if obj == nil {
		return nil, errors.New("condition: no object to compile for")
	}
	if len(src) > MaxSourceLen {
		return nil, errorAt(src, utf8.RuneCountInString(src[:MaxSourceLen]),
			fmt.Sprintf("expression is longer than %d bytes", MaxSourceLen))
	}
	if !utf8.ValidString(src) {
		return nil, errorAt(src, 0, "expression is not valid UTF-8")
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Line: 1, Column: 1, Message: "expression is empty", Snippet: src + "\n^"}
	}
	s := scopeShape(obj, item)
	p := &patcher{object: obj.Name, shape: s}
	if item != nil {
		p.itemObject = item.Name
	}
	opts := append([]expr.Option{
		expr.Env(s.zero),
		expr.MaxNodes(MaxNodes),
		expr.DisableBuiltin("now"), // the variable now replaces it: evaluations must be repeatable
		expr.Timezone("UTC"),       // date("2026-03-01") is midnight UTC, like every date here
		expr.Patch(p),
	}, helperOptions...)
	opts = append(opts, budgetOptions...)
	prog, err := expr.Compile(src, opts...)
	if p.err != nil {
		return nil, fromFileError(src, p.err)
	}
	if err != nil {
		return nil, convertError(src, err, s)
	}
	pr := &Program{src: src, shape: s, prog: prog, fills: fillsOf(prog.Node(), s), cond: cond, want: want}
	if err := pr.checkResult(prog.Node().Type()); err != nil {
		return nil, err
	}
	return pr, nil
}

// checkResult reports a result type that cannot be what the program is for. An unknown type
// (a value read from a json field) passes here and is checked at evaluation.
func (p *Program) checkResult(t reflect.Type) error {
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	var ok bool
	var what string
	switch {
	case p.cond:
		ok, what = t.Kind() == reflect.Bool, "a condition must be true or false (bool)"
	case p.want == nil:
		return nil
	default:
		k := kindOf(p.want)
		ok = fits(k, t)
		what = fmt.Sprintf("field %s needs %s", p.want.Name, kindName(k))
	}
	if ok {
		return nil
	}
	return errorAt(p.src, 0, fmt.Sprintf("%s, but the expression gives %s", what, p.shape.humanize(t.String())))
}

// fits reports whether a value of type t can be stored in a column of kind k.
func fits(k kind, t reflect.Type) bool {
	switch k {
	case kindString:
		return t.Kind() == reflect.String
	case kindNumber:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			return true
		}
	case kindBool:
		return t.Kind() == reflect.Bool
	case kindTime:
		return t == timeType
	case kindList:
		if t.Kind() == reflect.String {
			return true
		}
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			e := t.Elem().Kind()
			return e == reflect.String || e == reflect.Interface
		}
	case kindAny:
		return true
	}
	return false
}

func kindName(k kind) string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "true or false (bool)"
	case kindTime:
		return "a date (time.Time)"
	case kindList:
		return "a list of strings"
	}
	return "any value"
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.src }

// Eval evaluates a condition. It fails when the expression does not give a bool, which
// type checking rules out unless the result comes from a json field.
func (p *Program) Eval(in Input) (bool, error) {
	out, err := p.run(&in)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition: %q gave %s, not true or false", p.src, typeName(out))
	}
	return b, nil
}

// Run evaluates the expression and returns its value. With a want field (see [CompileValue])
// the value is converted for it: float64 for numbers, string, bool, time.Time (UTC) for dates,
// []string for lists; a value that does not fit, or a number that is not finite (daysSince of
// an empty date), is an error.
func (p *Program) Run(in Input) (any, error) {
	out, err := p.run(&in)
	if err != nil || p.want == nil || p.cond {
		return out, err
	}
	return p.convertResult(out)
}

func (p *Program) convertResult(out any) (any, error) {
	k := kindOf(p.want)
	bad := func() (any, error) {
		return nil, fmt.Errorf("condition: field %s needs %s, but %q gave %s", p.want.Name, kindName(k), p.src, typeName(out))
	}
	switch k {
	case kindString:
		if s, ok := out.(string); ok {
			return s, nil
		}
	case kindNumber:
		n, ok := toNumber(out)
		if !ok {
			break
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, fmt.Errorf("condition: field %s needs a finite number, but %q gave %v", p.want.Name, p.src, n)
		}
		return n, nil
	case kindBool:
		if b, ok := out.(bool); ok {
			return b, nil
		}
	case kindTime:
		if t, ok := out.(time.Time); ok {
			return t.UTC(), nil
		}
	case kindList:
		switch x := out.(type) {
		case string:
			return toList(x), nil
		case []string:
			return x, nil
		case []any:
			l := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("condition: field %s needs a list of strings, but %q gave a list holding %s", p.want.Name, p.src, typeName(e))
				}
				l[i] = s
			}
			return l, nil
		}
	default:
		return out, nil
	}
	return bad()
}

var vms = sync.Pool{New: func() any { return new(vm.VM) }}

// run evaluates the program on in. It never panics.
func (p *Program) run(in *Input) (out any, err error) {
	b := p.shape.pool.Get().(*box)
	m := vms.Get().(*vm.VM)
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("condition: evaluate %q: %v", p.src, r)
		}
		b.reset()
		p.shape.pool.Put(b)
		vms.Put(m)
	}()
	b.load(p.fills, in)
	m.MemoryBudget = memoryBudget
	out, err = m.Run(p.prog, b.ptr)
	if err != nil {
		return nil, convertError(p.src, err, p.shape)
	}
	return out, nil
}
