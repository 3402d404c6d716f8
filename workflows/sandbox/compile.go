package sandbox

import (
	"container/list"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
	"github.com/dop251/goja/unistring"
)

// Compile-time limits. goja's parser and compiler take superlinear time on some deeply nested
// or very long inputs (measured: 16,000 nested "{a:" take over a minute to parse, a chain of
// 32,000 "+1" five seconds to compile), and neither can be interrupted, so the source is
// bounded before it reaches them.
const (
	maxSourceLength = 64 << 10 // bytes
	maxNesting      = 256      // open brackets, as counted by nesting()
	maxArrows       = 1000     // "=>" tokens; nested arrow functions parse in quadratic time
	maxTreeDepth    = 512      // syntax tree depth, checked before compiling
	scriptName      = "script"
	cacheSize       = 256 // compiled programs kept per Sandbox
)

// The script is compiled as the body of an inner function, so that a top-level return works and
// its declarations stay local. The outer function receives the guards the rewritten code calls;
// their names are not valid identifiers, so the script can neither name nor shadow them.
const (
	prefix = `(function(){"use strict";return function(){`
	suffix = "\n}})"

	guardString = " string" // checks the result of +, += and template literals
	guardSpread = " spread" // materializes what [...x] and destructuring with a rest element iterate
	guardArgs   = " args"   // materializes what f(...x) and new F(...x) iterate
	guardAlloc  = " alloc"  // charges objects, arrays and properties the script creates

	// What guardAlloc charges, in bytes, or how it counts.
	// The sizes are goja's, measured on amd64.
	allocObject   = 192 // an object literal, plus allocProperty per property; a new expression
	allocProperty = 160 // a property of an object literal
	allocKey      = 96  // an assignment to a computed key, which may add a property
	allocClosure  = 768 // a function or class
	allocRegExp   = 512 // a regular expression literal
	allocArray    = -1  // an array literal: allocArrayBase plus 16 per element, counted when created
	allocSpread   = -2  // an object literal with a spread: counted when created
)

// guards are the outer function's parameters, in order.
var guards = []string{guardString, guardSpread, guardArgs, guardAlloc}

// compile parses, checks and rewrites src, and compiles it in strict mode.
func compile(src string) (p *goja.Program, err error) {
	defer func() {
		if x := recover(); x != nil {
			p, err = nil, fmt.Errorf("sandbox: internal error compiling the script: %v", x)
		}
	}()
	if len(src) > maxSourceLength {
		return nil, &SyntaxError{Line: 1, Column: 1, Message: fmt.Sprintf("script is %d bytes long, more than the %d allowed", len(src), maxSourceLength)}
	}
	if off, msg := prescan(src); msg != "" {
		line, col := sourcePosition(src, off)
		return nil, &SyntaxError{Line: line, Column: col, Message: msg}
	}
	wrapped := prefix + src + suffix
	prg, err := parser.ParseFile(nil, scriptName, wrapped, 0, parser.WithDisableSourceMaps)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			msg := list[0].Message
			off := wrappedOffset(src, list[0].Position)
			if off > len(prefix)+len(src) {
				msg = "Unexpected end of input" // what the parser met was the wrapper's end
			}
			line, col := wrappedPosition(src, off)
			return nil, &SyntaxError{Line: line, Column: col, Message: msg}
		}
		return nil, &SyntaxError{Line: 1, Column: 1, Message: err.Error()}
	}
	outer, inner, err := unwrap(prg, src)
	if err != nil {
		return nil, err
	}
	w := &rewriter{file: prg.File, src: src, done: map[any]bool{}, allowRest: map[*ast.ArrayPattern]bool{}, owned: map[*ast.BlockStatement]bool{}}
	completion(inner.Body.List)
	w.node(reflect.ValueOf(inner))
	if w.err != nil {
		return nil, w.err
	}
	for _, name := range guards {
		outer.ParameterList.List = append(outer.ParameterList.List, &ast.Binding{
			Target: &ast.Identifier{Name: unistring.String(name), Idx: outer.Function},
		})
	}
	return compileAST(prg, src)
}

// compileAST compiles the rewritten program. goja's compiler reports strict-mode violations
// and redeclarations, and panics on a few errors it does not expect; both become SyntaxErrors.
func compileAST(prg *ast.Program, src string) (p *goja.Program, err error) {
	defer func() {
		if x := recover(); x != nil {
			p, err = nil, &SyntaxError{Line: 1, Column: 1, Message: fmt.Sprint(x)}
		}
	}()
	p, err = goja.CompileAST(prg, true)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) && ce.File != nil {
			line, col := wrappedPosition(src, ce.Offset)
			return nil, &SyntaxError{Line: line, Column: col, Message: ce.Message}
		}
		return nil, &SyntaxError{Line: 1, Column: 1, Message: err.Error()}
	}
	return p, nil
}

// unwrap returns the outer and inner functions of the wrapped program, and refuses a script that
// closed the inner function early to run code outside it.
func unwrap(prg *ast.Program, src string) (outer, inner *ast.FunctionLiteral, err error) {
	if len(prg.Body) > 0 {
		if st, ok := prg.Body[0].(*ast.ExpressionStatement); ok {
			outer, _ = st.Expression.(*ast.FunctionLiteral)
		}
	}
	if outer != nil && len(outer.Body.List) == 2 {
		if ret, ok := outer.Body.List[1].(*ast.ReturnStatement); ok {
			inner, _ = ret.Argument.(*ast.FunctionLiteral)
		}
	}
	base := prg.File.Base()
	if len(prg.Body) == 1 && inner != nil &&
		int(inner.Body.LeftBrace)-base == len(prefix)-1 && int(inner.Body.RightBrace)-base == len(prefix)+len(src)+1 {
		return outer, inner, nil
	}
	// The script closed the function it runs in: point at the brace that did.
	line, col := 1, 1
	if inner != nil {
		line, col = wrappedPosition(src, int(inner.Body.RightBrace)-base)
	}
	return nil, nil, &SyntaxError{Line: line, Column: col, Message: "Unexpected token }"}
}

// completion makes the value of the script's last expression statement its return value, the
// way eval reports a completion value. It follows blocks, if/else and try/catch at the end.
func completion(list []ast.Statement) {
	if len(list) == 0 {
		return
	}
	last := &list[len(list)-1]
	switch st := (*last).(type) {
	case *ast.ExpressionStatement:
		*last = &ast.ReturnStatement{Return: st.Idx0(), Argument: st.Expression}
	case *ast.BlockStatement:
		completion(st.List)
	case *ast.IfStatement:
		st.Consequent = completionOf(st.Consequent)
		if st.Alternate != nil {
			st.Alternate = completionOf(st.Alternate)
		}
	case *ast.TryStatement:
		completion(st.Body.List)
		if st.Catch != nil {
			completion(st.Catch.Body.List)
		}
	}
}

func completionOf(st ast.Statement) ast.Statement {
	list := []ast.Statement{st}
	completion(list)
	return list[0]
}

// prescan bounds what the parser would otherwise spend superlinear time on: bracket nesting and
// arrow functions. It skips strings and comments, and counts a template literal's ${ as a bracket.
// It returns the byte offset and message of the first problem, or "" when there is none.
func prescan(src string) (int, string) {
	var (
		depth, arrows int
		templates     []int // depth at which each open template literal's ${ started
	)
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '\'', '"':
			i = skipQuoted(src, i, c)
		case '`':
			i = skipTemplate(src, i+1)
			if i < len(src) && src[i] == '$' {
				i++ // at '{'
				depth++
				templates = append(templates, depth)
			}
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
			} else if i+1 < len(src) && src[i+1] == '*' {
				if end := strings.Index(src[i+2:], "*/"); end >= 0 {
					i += end + 3
				} else {
					i = len(src)
				}
			}
		case '(', '[', '{':
			depth++
			if depth > maxNesting {
				return i, fmt.Sprintf("brackets nest deeper than %d levels", maxNesting)
			}
		case ')', ']', '}':
			if c == '}' && len(templates) > 0 && templates[len(templates)-1] == depth {
				templates = templates[:len(templates)-1]
				depth--
				i = skipTemplate(src, i+1)
				if i < len(src) && src[i] == '$' {
					i++
					depth++
					templates = append(templates, depth)
				}
				continue
			}
			if depth > 0 {
				depth--
			}
		case '=':
			if i+1 < len(src) && src[i+1] == '>' {
				if arrows++; arrows > maxArrows {
					return i, fmt.Sprintf("more than %d arrow functions", maxArrows)
				}
			}
		}
	}
	return 0, ""
}

// skipQuoted returns the offset of the quote closing the string that opens at i.
func skipQuoted(src string, i int, quote byte) int {
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case quote, '\n':
			return i
		}
	}
	return i
}

// skipTemplate returns the offset of the backquote closing template text that starts at i, or of
// the '$' of the next "${".
func skipTemplate(src string, i int) int {
	for ; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '`':
			return i
		case '$':
			if i+1 < len(src) && src[i+1] == '{' {
				return i
			}
		}
	}
	return i
}

// rewriter checks the script's syntax tree and inserts the guards. goja's AST has no walker, so it
// walks the exported fields by reflection.
type rewriter struct {
	file      *file.File
	src       string
	done      map[any]bool // nodes already visited: hoisting lists share nodes with statements
	allowRest map[*ast.ArrayPattern]bool
	owned     map[*ast.BlockStatement]bool // bodies whose function or loop counts their functions
	closures  []int                        // functions created, per enclosing function, block or loop
	depth     int
	err       error
}

var (
	expressionType = reflect.TypeFor[ast.Expression]()
	fileType       = reflect.TypeFor[*file.File]()
)

func (w *rewriter) node(v reflect.Value) {
	if w.err != nil {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			w.node(v.Elem())
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type() == fileType {
			return
		}
		n := v.Interface()
		if w.done[n] {
			return
		}
		w.done[n] = true
		if w.depth++; w.depth > maxTreeDepth {
			w.fail(n, fmt.Sprintf("script nests deeper than %d levels", maxTreeDepth))
			return
		}
		w.enter(n)
		w.children(n, v.Elem())
		w.depth--
	case reflect.Struct:
		for i := range v.NumField() {
			w.field(v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			w.field(v.Index(i))
		}
	}
}

// children walks the fields of node n (whose struct is v), keeping count of the functions and
// classes each function body, block and loop iteration creates: each costs goja about 768 bytes,
// so the body starts by charging for them. The charge keeps the inferred names that wrapping the
// function expression itself in a guard would lose.
func (w *rewriter) children(n any, v reflect.Value) {
	switch n := n.(type) {
	case *ast.FunctionLiteral:
		w.closure()
		w.owned[n.Body] = true
		bytes := w.scope(func() { w.node(v) }) * allocClosure
		if n.Async || n.Generator {
			bytes += allocClosure // each call creates a promise or a generator
		}
		n.Body.List = charged(n.Body.List, n.Body.LeftBrace, bytes)
	case *ast.ArrowFunctionLiteral:
		w.closure()
		if b, ok := n.Body.(*ast.BlockStatement); ok {
			w.owned[b] = true
		}
		bytes := w.scope(func() { w.node(v) }) * allocClosure
		if n.Async {
			bytes += allocClosure
		}
		if bytes > 0 {
			b, ok := n.Body.(*ast.BlockStatement)
			if !ok {
				e := n.Body.(*ast.ExpressionBody).Expression
				b = &ast.BlockStatement{LeftBrace: e.Idx0(), List: []ast.Statement{&ast.ReturnStatement{Return: e.Idx0(), Argument: e}}, RightBrace: e.Idx1() - 1}
				n.Body = b
			}
			b.List = charged(b.List, b.LeftBrace, bytes)
		}
	case *ast.ClassLiteral:
		w.closure()
		w.node(v)
	case *ast.BlockStatement:
		if w.owned[n] {
			w.node(v)
			return
		}
		n.List = charged(n.List, n.LeftBrace, w.scope(func() { w.node(v) })*allocClosure)
	case *ast.ForStatement: // Test and Update run with each iteration
		w.fields(v, "Initializer")
		w.loop(n.Body.(*ast.BlockStatement), v, "Update", "Test", "Body")
	case *ast.WhileStatement:
		w.loop(n.Body.(*ast.BlockStatement), v, "Test", "Body")
	case *ast.DoWhileStatement:
		w.loop(n.Body.(*ast.BlockStatement), v, "Test", "Body")
	case *ast.ForInStatement:
		w.fields(v, "Source")
		w.loop(n.Body.(*ast.BlockStatement), v, "Into", "Body")
	case *ast.ForOfStatement:
		w.fields(v, "Source")
		w.loop(n.Body.(*ast.BlockStatement), v, "Into", "Body")
	default:
		w.node(v)
	}
}

// loop walks the named fields of a loop, which run with each iteration, charging body for the
// functions they create.
func (w *rewriter) loop(body *ast.BlockStatement, v reflect.Value, names ...string) {
	w.owned[body] = true
	body.List = charged(body.List, body.LeftBrace, w.scope(func() { w.fields(v, names...) })*allocClosure)
}

func (w *rewriter) fields(v reflect.Value, names ...string) {
	for _, name := range names {
		w.field(v.FieldByName(name))
	}
}

// scope runs walk with a new count of functions created, and returns it.
func (w *rewriter) scope(walk func()) int {
	w.closures = append(w.closures, 0)
	walk()
	count := w.closures[len(w.closures)-1]
	w.closures = w.closures[:len(w.closures)-1]
	return count
}

// closure counts a function or class created in the current scope.
func (w *rewriter) closure() {
	if len(w.closures) > 0 {
		w.closures[len(w.closures)-1]++
	}
}

// charged returns list preceded by a statement charging bytes, if any.
func charged(list []ast.Statement, idx file.Idx, bytes int) []ast.Statement {
	if bytes == 0 {
		return list
	}
	zero := &ast.NumberLiteral{Idx: idx, Literal: "0", Value: int64(0)}
	return append([]ast.Statement{&ast.ExpressionStatement{Expression: guard(guardAlloc, zero, bytes)}}, list...)
}

// field walks f and then, if it holds an expression, replaces it with its guarded form.
func (w *rewriter) field(f reflect.Value) {
	w.node(f)
	if f.Type() != expressionType || f.IsNil() || !f.CanSet() {
		return
	}
	switch e := f.Interface().(type) {
	case *ast.BinaryExpression:
		if e.Operator == token.PLUS {
			f.Set(reflect.ValueOf(guard(guardString, e)))
		}
	case *ast.AssignExpression:
		if _, ok := e.Left.(*ast.BracketExpression); ok && e.Operator == token.ASSIGN {
			e.Right = guard(guardAlloc, e.Right, allocKey) // o[k] = v may add a property
		}
		if e.Operator == token.PLUS {
			f.Set(reflect.ValueOf(guard(guardString, e)))
		}
	case *ast.TemplateLiteral:
		if e.Tag == nil {
			f.Set(reflect.ValueOf(guard(guardString, e)))
		}
	case *ast.ObjectLiteral:
		size := allocObject + allocProperty*len(e.Value)
		for _, p := range e.Value {
			if _, ok := p.(*ast.SpreadElement); ok {
				size = allocSpread
			}
		}
		f.Set(reflect.ValueOf(guard(guardAlloc, e, size)))
	case *ast.ArrayLiteral:
		f.Set(reflect.ValueOf(guard(guardAlloc, e, allocArray)))
	case *ast.NewExpression:
		f.Set(reflect.ValueOf(guard(guardAlloc, e, allocObject)))
	case *ast.RegExpLiteral: // a new RegExp object each time it is evaluated
		f.Set(reflect.ValueOf(guard(guardAlloc, e, allocRegExp)))
	}
}

// enter checks a node before its children are walked.
func (w *rewriter) enter(n any) {
	switch n := n.(type) {
	case *ast.ForStatement:
		n.Body = block(n.Body)
	case *ast.WhileStatement:
		n.Body = block(n.Body)
	case *ast.DoWhileStatement:
		n.Body = block(n.Body)
	case *ast.ForInStatement:
		n.Body = block(n.Body)
	case *ast.ForOfStatement:
		n.Body = block(n.Body)
	case *ast.ArrayLiteral:
		spreads(n.Value, guardSpread)
	case *ast.CallExpression:
		spreads(n.ArgumentList, guardArgs)
	case *ast.NewExpression:
		spreads(n.ArgumentList, guardArgs)
	case *ast.Binding:
		// let [a, ...rest] = x: the rest element would drain x natively; drain it in a guard instead.
		// A Binding in a parameter list is not a declaration; its pattern was already visited
		// through the ParameterList, or is visited after this node and refused.
		if p, ok := n.Target.(*ast.ArrayPattern); ok && p.Rest != nil && n.Initializer != nil && !w.done[p] {
			w.allowRest[p] = true
			n.Initializer = guard(guardSpread, n.Initializer)
		}
	case *ast.ParameterList:
		for _, b := range n.List {
			w.node(reflect.ValueOf(b.Target)) // visit patterns before their Binding can allow them
		}
	case *ast.AssignExpression:
		if p, ok := n.Left.(*ast.ArrayPattern); ok && p.Rest != nil && n.Operator == token.ASSIGN {
			w.allowRest[p] = true
			n.Right = guard(guardSpread, n.Right)
		}
	case *ast.ArrayPattern:
		if n.Rest != nil && !w.allowRest[n] {
			w.fail(n, "a rest element (...) in array destructuring is supported only in declarations and assignments, not in parameters, loop heads or nested patterns")
		}
	case *ast.RegExpLiteral:
		if msg := checkRegexp(n.Pattern, n.Flags); msg != "" {
			w.fail(n, msg)
		}
	case *ast.NumberLiteral:
		if _, ok := n.Value.(*big.Int); ok {
			w.fail(n, "BigInt is not supported")
		}
	}
}

// block returns a loop body as a block, so that a charge can start it.
func block(st ast.Statement) ast.Statement {
	if _, ok := st.(*ast.BlockStatement); ok {
		return st
	}
	return &ast.BlockStatement{LeftBrace: st.Idx0(), List: []ast.Statement{st}, RightBrace: st.Idx1() - 1}
}

func spreads(list []ast.Expression, name string) {
	for _, e := range list {
		if s, ok := e.(*ast.SpreadElement); ok {
			s.Expression = guard(name, s.Expression)
		}
	}
}

// guard returns the call name(e, args...), positioned where e is so that errors point at e.
func guard(name string, e ast.Expression, args ...int) *ast.CallExpression {
	list := []ast.Expression{e}
	for _, a := range args {
		list = append(list, &ast.NumberLiteral{Idx: e.Idx0(), Literal: strconv.Itoa(a), Value: int64(a)})
	}
	return &ast.CallExpression{
		Callee:           &ast.Identifier{Name: unistring.String(name), Idx: e.Idx0()},
		LeftParenthesis:  e.Idx0(),
		ArgumentList:     list,
		RightParenthesis: e.Idx1() - 1,
	}
}

func (w *rewriter) fail(n any, msg string) {
	if w.err != nil {
		return
	}
	line, col := 1, 1
	if n, ok := n.(ast.Node); ok {
		line, col = wrappedPosition(w.src, int(n.Idx0())-w.file.Base())
	}
	w.err = &SyntaxError{Line: line, Column: col, Message: msg}
}

// checkRegexp reports why goja would run pattern on its backtracking engine (regexp2), which has
// no time limit and cannot be interrupted, or "" if it runs on Go's linear-time regexp package.
// It mirrors goja's compileRegexp.
func checkRegexp(pattern, flags string) string {
	unicode, dotAll := strings.Contains(flags, "u"), strings.Contains(flags, "s")
	if unicode {
		pattern = surrogatePairsToRunes(pattern)
	} else {
		pattern = astralToSurrogates(pattern)
	}
	re2, err := parser.TransformRegExp(pattern, dotAll, unicode)
	if err != nil {
		var incompat parser.RegexpErrorIncompatible
		if errors.As(err, &incompat) {
			return "regular expressions with lookahead, lookbehind or backreferences are not supported (" + err.Error() + ")"
		}
		return "" // an invalid pattern: goja reports it
	}
	var re2flags string
	for _, f := range []string{"m", "s", "i"} {
		if strings.Contains(flags, f) {
			re2flags += f
		}
	}
	if re2flags != "" {
		re2 = "(?" + re2flags + ":" + re2 + ")"
	}
	if _, err := regexp.Compile(re2); err != nil {
		var se *syntax.Error
		if errors.As(err, &se) && se.Code == syntax.ErrInvalidRepeatSize {
			return "regular expression repeat counts above 1000 are not supported"
		}
	}
	return ""
}

// surrogatePairsToRunes replaces escaped surrogate pairs (\uD83D\uDE00) with the character they
// encode, as goja does for patterns with the u flag.
func surrogatePairsToRunes(p string) string {
	var b strings.Builder
	pos := 0
	for i := 0; i < len(p)-11; {
		if p[i] != '\\' {
			_, size := utf8.DecodeRuneInString(p[i:])
			i += size
			continue
		}
		i++
		if p[i] == 'u' && p[i+5] == '\\' && p[i+6] == 'u' {
			hi, ok1 := hex4(p[i+1 : i+5])
			lo, ok2 := hex4(p[i+7 : i+11])
			if ok1 && ok2 && utf16.IsSurrogate(hi) && hi < 0xDC00 && lo >= 0xDC00 && lo <= 0xDFFF {
				b.WriteString(p[pos : i-1])
				b.WriteRune(utf16.DecodeRune(hi, lo))
				i += 11
				pos = i
				continue
			}
		}
		i++
	}
	if pos == 0 {
		return p
	}
	b.WriteString(p[pos:])
	return b.String()
}

// astralToSurrogates replaces characters outside the Basic Multilingual Plane with escaped
// surrogate pairs, as goja does for patterns without the u flag.
func astralToSurrogates(p string) string {
	var b strings.Builder
	pos := 0
	var prev rune
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		if r > 0xFFFF {
			b.WriteString(p[pos:i])
			if prev == '\\' {
				b.WriteByte('\\')
			}
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
			pos = i + size
		}
		i += size
		prev = r
	}
	if pos == 0 {
		return p
	}
	b.WriteString(p[pos:])
	return b.String()
}

func hex4(s string) (rune, bool) {
	var r rune
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// userPosition converts a position goja reports in the wrapped source (1-based line, byte column)
// to the script's own: 1-based line and column in UTF-16 code units, as JavaScript editors count.
func userPosition(src string, p file.Position) (line, col int) {
	return wrappedPosition(src, wrappedOffset(src, p))
}

// wrappedOffset returns the byte offset in the wrapped source of a position goja reports. goja
// ends lines at every JavaScript line terminator (\r\n, \r, \n, U+2028, U+2029); the line and
// column are turned back into an offset by the same rule, so a script with a lone \r is placed
// as exactly as any other.
func wrappedOffset(src string, p file.Position) int {
	wrapped := prefix + src + suffix
	off := 0
	for l := 1; l < p.Line && off < len(wrapped); l++ {
		next := nextLineStart(wrapped[off:])
		if next < 0 {
			off = len(wrapped)
			break
		}
		off += next
	}
	return min(off+max(0, p.Column-1), len(wrapped))
}

// wrappedPosition returns the script's 1-based line and UTF-16 column of byte offset off in the
// wrapped source. An offset in the prefix is the script's start, one in the suffix its end.
func wrappedPosition(src string, off int) (line, col int) {
	return newLineIndex(src).wrapped(off)
}

// nextLineStart returns the offset of the line after the first JavaScript line terminator in
// s, or -1, as goja's file package counts lines.
func nextLineStart(s string) int {
	for i, r := range s {
		switch r {
		case '\r':
			if strings.HasPrefix(s[i+1:], "\n") {
				return i + 2
			}
			return i + 1
		case '\n':
			return i + 1
		case '\u2028', '\u2029':
			return i + 3
		}
	}
	return -1
}

// sourcePosition returns the 1-based line and UTF-16 column of byte offset off in src.
func sourcePosition(src string, off int) (line, col int) {
	return newLineIndex(src).position(off)
}

// lineIndex places byte offsets of a script on its lines, which end at every JavaScript line
// terminator, as in goja's and browsers' error positions. Built once, it places each offset
// in O(log lines), for callers that place many.
type lineIndex struct {
	src    string
	starts []int // the byte offset of each line's start; starts[0] == 0
}

func newLineIndex(src string) *lineIndex {
	l := &lineIndex{src: src, starts: []int{0}}
	for off := 0; ; {
		next := nextLineStart(src[off:])
		if next < 0 {
			return l
		}
		off += next
		l.starts = append(l.starts, off)
	}
}

// position returns the 1-based line and UTF-16 column of byte offset off in the script.
func (l *lineIndex) position(off int) (line, col int) {
	off = max(0, min(off, len(l.src)))
	line = sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > off })
	return line, utf16Len(l.src[l.starts[line-1]:off]) + 1
}

// wrapped is position for an offset in the wrapped source.
func (l *lineIndex) wrapped(off int) (line, col int) {
	return l.position(off - len(prefix))
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// cache keeps the most recently used compiled programs, keyed by the SHA-256 of their source.
// A goja.Program is not tied to a runtime and may run in several at once.
type cache struct {
	mu    sync.Mutex
	order *list.List // of *cacheEntry, most recently used first
	items map[[sha256.Size]byte]*list.Element
}

type cacheEntry struct {
	key [sha256.Size]byte
	prg *goja.Program
}

func newCache() *cache {
	return &cache{order: list.New(), items: map[[sha256.Size]byte]*list.Element{}}
}

// program returns src compiled, from the cache when it was compiled before.
func (c *cache) program(src string) (*goja.Program, error) {
	key := sha256.Sum256([]byte(src))
	c.mu.Lock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		c.mu.Unlock()
		return e.Value.(*cacheEntry).prg, nil
	}
	c.mu.Unlock()

	prg, err := compile(src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; !ok {
		c.items[key] = c.order.PushFront(&cacheEntry{key: key, prg: prg})
		if c.order.Len() > cacheSize {
			last := c.order.Remove(c.order.Back()).(*cacheEntry)
			delete(c.items, last.key)
		}
	}
	return prg, nil
}
