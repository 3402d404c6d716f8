package condition

import (
	"errors"
	"fmt"
	"reflect"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
)

// Limits on one evaluation. Conditions run inside the save of the record that triggers them
// (and anonymous form posts save contacts), so the worst expression that compiles must stay
// cheap: every loop, list and piece of text an expression walks is charged to a budget, and
// an evaluation that would go over it stops with an *[Error] at the place that went over.
const (
	// MaxSteps is the number of list elements an evaluation may walk: every element a
	// builtin (filter, map, reduce, sort, join, len of a list, in, ...) iterates over counts
	// once each time the builtin runs, so nested loops count the product of their lengths.
	MaxSteps = 5_000
	// MaxBytes is the number of bytes of text an evaluation may process: every string a
	// builtin or a text operator (+, contains, matches, comparisons of two computed strings)
	// reads counts its length each time.
	MaxBytes = 1 << 20
	// MaxRegexSize is the largest compiled pattern accepted after matches, in instructions.
	MaxRegexSize = 500
	// memoryBudget is expr's own budget (elements of ranges, arrays and maps it creates).
	memoryBudget = 100_000
)

// ErrBudget is wrapped by the error of an evaluation that went over [MaxSteps] or [MaxBytes].
var ErrBudget = errors.New("evaluation budget exceeded")

// budget counts what one evaluation has used. It lives in the environment as a hidden
// variable, so the charging functions the compiler inserts reach it without global state.
type budget struct {
	steps, bytes int
	facts        Facts // what inSegment, replied and unsubscribed ask (see facts.go)
}

func (b *budget) check() error {
	if b.steps > MaxSteps {
		return fmt.Errorf("%w: more than %d list elements walked (an expression may walk at most %d per evaluation)", ErrBudget, MaxSteps, MaxSteps)
	}
	if b.bytes > MaxBytes {
		return fmt.Errorf("%w: more than %d bytes of text processed (an expression may process at most 1 MiB per evaluation)", ErrBudget, MaxBytes)
	}
	return nil
}

// charge counts x: a string by its bytes, a list by its elements and the bytes of the strings
// it holds, a map by its entries.
func (b *budget) charge(x any) error {
	switch v := x.(type) {
	case nil:
	case string:
		b.bytes += len(v)
	case []string:
		b.steps += len(v)
		if err := b.check(); err != nil {
			return err
		}
		for _, s := range v {
			b.bytes += len(s)
		}
	case []any:
		b.steps += len(v)
		if err := b.check(); err != nil {
			return err
		}
		for _, e := range v {
			if s, ok := e.(string); ok {
				b.bytes += len(s)
			}
		}
	case []int:
		b.steps += len(v)
	case []float64:
		b.steps += len(v)
	case map[string]any:
		b.steps += len(v)
	default:
		switch rv := reflect.ValueOf(x); rv.Kind() {
		case reflect.String:
			b.bytes += rv.Len()
		case reflect.Slice, reflect.Array, reflect.Map:
			b.steps += rv.Len()
		}
	}
	return b.check()
}

// maxDeepDepth bounds the nesting chargeDeep walks (a list in an interface counts two).
const maxDeepDepth = 128

// deepWeight is what an element or a byte costs toJSON and string, which indent, escape and
// sort map keys: about three times what a loop step or a plain string function costs.
const deepWeight = 3

// chargeDeep counts every element and string inside x, for builtins that walk a value whole
// (toJSON, string).
func (b *budget) chargeDeep(v reflect.Value, depth int) error {
	if depth > maxDeepDepth {
		return fmt.Errorf("%w: the value is nested more than %d levels deep", ErrBudget, maxDeepDepth/2)
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return b.chargeDeep(v.Elem(), depth+1)
	case reflect.String:
		b.bytes += deepWeight * v.Len()
	case reflect.Slice, reflect.Array:
		b.steps += deepWeight * v.Len()
		if err := b.check(); err != nil {
			return err
		}
		for i := range v.Len() {
			if err := b.chargeDeep(v.Index(i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		b.steps += deepWeight * v.Len()
		if err := b.check(); err != nil {
			return err
		}
		it := v.MapRange()
		for it.Next() {
			if err := b.chargeDeep(it.Value(), depth+1); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return nil
		}
		for i := range v.NumField() {
			if err := b.chargeDeep(v.Field(i), depth+1); err != nil {
				return err
			}
		}
	}
	return b.check()
}

// Names of the hidden charging functions and the budget variable. They cannot be written in
// a source: the lexer reads $ only in $env.
const (
	nameBudget = "$budget"
	fnCost     = "$cost"
	fnCostDeep = "$costDeep"
	fnCostN    = "$costN" // $costN(x, $budget, weight) charges weight times the bytes of x
	fnCostSq   = "$costSq"
	fnStep     = "$step" // $step(x, $budget, k) charges k steps and returns x
)

// callSteps is what one call of a builtin dearer than a loop step costs, in steps, on top of
// its arguments (measured by BenchmarkWorstAccepted: a loop step is about 150 ns, fromJSON
// of a short text or a time method about 550 ns).
var callSteps = map[string]int{
	"fromJSON": 4, "toJSON": 4, "string": 2, "split": 2, "splitAfter": 2, "date": 1, "duration": 1,
}

// methodSteps is what a call of a method of a time value costs, in steps.
const methodSteps = 4

// uniqPairsPerStep is how many element comparisons of uniq (which compares each element with
// every distinct one kept so far) cost one step.
const uniqPairsPerStep = 100

// passThrough keeps the type of the charged value, so charging changes no type check.
func passThrough(args []reflect.Type) (reflect.Type, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("charge takes 2 arguments, got %d", len(args))
	}
	return args[0], nil
}

var budgetOptions = []expr.Option{
	func(c *conf.Config) {
		c.Functions[fnCost] = &builtin.Function{
			Name:     fnCost,
			Validate: passThrough,
			Func: func(args ...any) (any, error) {
				if b, ok := args[1].(*budget); ok && b != nil {
					return args[0], b.charge(args[0])
				}
				return args[0], nil
			},
		}
		c.Functions[fnCostN] = &builtin.Function{
			Name: fnCostN,
			Validate: func(args []reflect.Type) (reflect.Type, error) {
				if len(args) != 3 {
					return nil, fmt.Errorf("charge takes 3 arguments, got %d", len(args))
				}
				return args[0], nil
			},
			Func: func(args ...any) (any, error) {
				b, ok := args[1].(*budget)
				s, isString := args[0].(string)
				w, _ := args[2].(int)
				if !ok || b == nil || !isString {
					return args[0], nil
				}
				b.bytes += len(s) * w
				return args[0], b.check()
			},
		}
		c.Functions[fnCostSq] = &builtin.Function{
			Name:     fnCostSq,
			Validate: passThrough,
			Func: func(args ...any) (any, error) {
				b, ok := args[1].(*budget)
				if !ok || b == nil {
					return args[0], nil
				}
				if rv := reflect.ValueOf(args[0]); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
					n := rv.Len()
					if n > MaxSteps {
						b.steps += n
					} else {
						b.steps += n * n / uniqPairsPerStep
					}
				}
				return args[0], b.charge(args[0])
			},
		}
		c.Functions[fnStep] = &builtin.Function{
			Name: fnStep,
			Validate: func(args []reflect.Type) (reflect.Type, error) {
				if len(args) != 3 {
					return nil, fmt.Errorf("step takes 3 arguments, got %d", len(args))
				}
				return args[0], nil
			},
			Func: func(args ...any) (any, error) {
				b, ok := args[1].(*budget)
				k, _ := args[2].(int)
				if !ok || b == nil {
					return args[0], nil
				}
				b.steps += k
				return args[0], b.check()
			},
		}
		c.Functions[fnCostDeep] = &builtin.Function{
			Name:     fnCostDeep,
			Validate: passThrough,
			Func: func(args ...any) (any, error) {
				if b, ok := args[1].(*budget); ok && b != nil {
					return args[0], b.chargeDeep(reflect.ValueOf(args[0]), 0)
				}
				return args[0], nil
			},
		}
	},
	// Builtins whose output can be far larger than their input are replaced by helpers that
	// check the size first (see helpers.go).
	expr.DisableBuiltin("repeat"),
	expr.DisableBuiltin("replace"),
	expr.DisableBuiltin("join"),
}

// isLiteral reports whether n is written in the source, so its cost is bounded by the
// source's length.
func isLiteral(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.ConstantNode:
		return true
	}
	return false
}

// chargeable reports whether a value of n's type can be large: text, lists, maps, or a
// value of unknown type (json).
func chargeable(n ast.Node) bool {
	t := n.Type()
	if t == nil {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map, reflect.Interface:
		return true
	}
	return false
}

// charged returns n wrapped in a call that charges its value to the budget.
func charged(n ast.Node, fn string) ast.Node {
	whole := fn == fnCostDeep && n.Type() != nil && n.Type().Kind() == reflect.Struct
	if isLiteral(n) || !(chargeable(n) || whole) {
		return n
	}
	if c, ok := n.(*ast.CallNode); ok {
		if id, ok := c.Callee.(*ast.IdentifierNode); ok && strings.HasPrefix(id.Value, "$cost") {
			return n
		}
	}
	loc := n.Location()
	callee := &ast.IdentifierNode{Value: fn}
	callee.SetLocation(loc)
	b := &ast.IdentifierNode{Value: nameBudget}
	b.SetLocation(loc)
	call := &ast.CallNode{Callee: callee, Arguments: []ast.Node{n, b}}
	call.SetLocation(loc)
	call.SetType(n.Type())
	return call
}

// builtinWeight is what a byte of text costs builtins slower than a plain scan (measured by
// BenchmarkWorstAccepted): case mapping decodes and re-encodes every rune.
var builtinWeight = map[string]int{
	"upper": 8, "lower": 8, "split": 2, "splitAfter": 2, "fromJSON": 8, "toBase64": 2, "fromBase64": 2,
}

// weighted returns the string n wrapped in a call that charges w times its bytes.
func weighted(n ast.Node, w int) ast.Node {
	loc := n.Location()
	at := func(x ast.Node) ast.Node { x.SetLocation(loc); return x }
	call := at(&ast.CallNode{
		Callee:    at(&ast.IdentifierNode{Value: fnCostN}),
		Arguments: []ast.Node{n, at(&ast.IdentifierNode{Value: nameBudget}), at(&ast.IntegerNode{Value: w})},
	})
	call.SetType(n.Type())
	return call
}

// stepped returns n wrapped in a call that charges k steps each time n is evaluated.
func stepped(n ast.Node, k int) ast.Node {
	loc := n.Location()
	at := func(x ast.Node) ast.Node { x.SetLocation(loc); return x }
	call := at(&ast.CallNode{
		Callee:    at(&ast.IdentifierNode{Value: fnStep}),
		Arguments: []ast.Node{n, at(&ast.IdentifierNode{Value: nameBudget}), at(&ast.IntegerNode{Value: k})},
	})
	call.SetType(n.Type())
	return call
}

// chargeCall charges a call by what it costs beyond its arguments: builtins in callSteps and
// methods of time values.
func chargeCall(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if k := callSteps[n.Name]; k > 0 {
			ast.Patch(node, stepped(n, k))
		}
	case *ast.CallNode:
		if _, ok := n.Callee.(*ast.MemberNode); ok {
			ast.Patch(node, stepped(n, methodSteps))
		}
	}
}

// chargeBuiltin charges the arguments of a call of an expr builtin.
func chargeBuiltin(n *ast.BuiltinNode) {
	fn := fnCost
	switch n.Name {
	case "toJSON", "string":
		fn = fnCostDeep
	case "uniq":
		fn = fnCostSq // quadratic: each element is compared with every distinct one before it
	}
	w := builtinWeight[n.Name]
	for i, arg := range n.Arguments {
		if _, ok := arg.(*ast.PredicateNode); ok {
			continue
		}
		if t := arg.Type(); w > 1 && t != nil && t.Kind() == reflect.String && !isLiteral(arg) {
			n.Arguments[i] = weighted(arg, w)
			continue
		}
		n.Arguments[i] = charged(arg, fn)
	}
}

// chargeBinary charges the operands of an operator that walks them.
func chargeBinary(n *ast.BinaryNode) {
	isString := func(x ast.Node) bool {
		t := x.Type()
		return t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Interface
	}
	switch n.Operator {
	case "+":
		if isString(n.Left) && isString(n.Right) {
			n.Left, n.Right = charged(n.Left, fnCost), charged(n.Right, fnCost)
		}
	case "contains":
		n.Left, n.Right = charged(n.Left, fnCost), charged(n.Right, fnCost)
	case "in":
		n.Right = charged(n.Right, fnCost)
	case "==", "!=", "<", ">", "<=", ">=", "startsWith", "endsWith":
		if !isLiteral(n.Left) && !isLiteral(n.Right) && isString(n.Left) && isString(n.Right) {
			n.Left, n.Right = charged(n.Left, fnCost), charged(n.Right, fnCost)
		}
	}
}

// checkRange refuses a range of literal bounds longer than any evaluation may walk.
func (p *patcher) checkRange(n *ast.BinaryNode) {
	lo, ok1 := intLiteral(n.Left)
	hi, ok2 := intLiteral(n.Right)
	if !ok1 || !ok2 {
		return
	}
	if size := hi - lo + 1; size > MaxSteps {
		p.fail(n, "range %d..%d has %d numbers; an expression may walk at most %d list elements per evaluation", lo, hi, size, MaxSteps)
	}
}

func intLiteral(n ast.Node) (int, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return x.Value, true
	case *ast.UnaryNode:
		if v, ok := intLiteral(x.Node); ok && x.Operator == "-" {
			return -v, true
		}
	}
	return 0, false
}

// checkPattern refuses a pattern after matches that is not written in quotes or that compiles
// to a large program (a pattern computed at evaluation would be compiled on every save), and
// charges the text matched by the size of the pattern: matching costs up to the text's length
// times the pattern's instructions.
func (p *patcher) checkPattern(n *ast.BinaryNode) {
	w := p.patternWeight(n)
	if w == 0 || isLiteral(n.Left) || !chargeable(n.Left) {
		return
	}
	n.Left = weighted(n.Left, w)
}

// regexBytesPerInst is how many instructions of a pattern cost as much as one byte of text
// processed by a plain string function.
// Go's regexp matches in time linear in the text times the pattern's size, about 20 ns a
// byte per instruction in the worst case (a pattern without a literal prefix), against
// about 5 ns a byte for a plain string function.
const regexWeightPerInst = 4

func (p *patcher) patternWeight(n *ast.BinaryNode) int {
	s, ok := n.Right.(*ast.StringNode)
	if !ok {
		p.fail(n.Right, "matches needs a pattern in quotes, like record.email matches \"@example\\\\.com$\"")
		return 0
	}
	re, err := syntax.Parse(s.Value, syntax.Perl)
	if err != nil {
		p.fail(s, "bad pattern: %v", err)
		return 0
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		p.fail(s, "bad pattern: %v", err)
		return 0
	}
	if len(prog.Inst) > MaxRegexSize {
		p.fail(s, "pattern is too large: it compiles to %d instructions, at most %d are accepted", len(prog.Inst), MaxRegexSize)
		return 0
	}
	return max(8, regexWeightPerInst*len(prog.Inst))
}

// boundedRepeat is repeat(s, n) that refuses an output larger than what remains of the budget.
func boundedRepeat(args ...any) (any, error) {
	s, _ := args[0].(string)
	n, ok := toNumber(args[1])
	b, _ := args[2].(*budget)
	if !ok || n < 0 || n != float64(int(n)) {
		return nil, fmt.Errorf("repeat: count must be a whole number from 0, not %v", args[1])
	}
	if b == nil {
		b = new(budget)
	}
	if float64(len(s))*n > float64(MaxBytes-b.bytes) {
		b.bytes = MaxBytes + 1
		return nil, b.check()
	}
	out := strings.Repeat(s, int(n))
	return out, b.charge(out)
}

// boundedReplace is replace(s, old, new) that refuses an output larger than what remains of
// the budget, before building it.
func boundedReplace(args ...any) (any, error) {
	s, _ := args[0].(string)
	old, _ := args[1].(string)
	repl, _ := args[2].(string)
	b, _ := args[3].(*budget)
	if b == nil {
		b = new(budget)
	}
	if err := b.charge(s); err != nil {
		return nil, err
	}
	n := strings.Count(s, old)
	if old == "" {
		n = utf8.RuneCountInString(s) + 1
	}
	if size := len(s) + n*(len(repl)-len(old)); size > MaxBytes-b.bytes {
		b.bytes = MaxBytes + 1
		return nil, b.check()
	}
	out := strings.ReplaceAll(s, old, repl)
	return out, b.charge(out)
}

// boundedJoin is join(list, sep) that refuses an output larger than what remains of the budget.
func boundedJoin(args ...any) (any, error) {
	sep, _ := args[1].(string)
	b, _ := args[2].(*budget)
	if b == nil {
		b = new(budget)
	}
	var parts []string
	switch l := args[0].(type) {
	case nil:
	case []string:
		parts = l
	case []any:
		if err := b.charge(l); err != nil {
			return nil, err
		}
		parts = make([]string, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("join: element %d is %s, not a string", i, typeName(e))
			}
			parts[i] = s
		}
	default:
		return nil, fmt.Errorf("join: argument 1 must be a list of strings, not %s", typeName(args[0]))
	}
	if err := b.charge(parts); err != nil {
		return nil, err
	}
	size := len(sep) * max(len(parts)-1, 0)
	for _, s := range parts {
		size += len(s)
	}
	if size > MaxBytes-b.bytes {
		b.bytes = MaxBytes + 1
		return nil, b.check()
	}
	return strings.Join(parts, sep), nil
}
