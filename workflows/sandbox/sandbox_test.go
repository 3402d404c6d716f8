package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relata/relata/workflows/sandbox"
)

var now = time.Date(2025, 3, 4, 5, 6, 7, 800_000_000, time.UTC)

func TestRun(t *testing.T) {
	t.Parallel()
	record := map[string]any{"name": "Acme", "amount": 1200, "vat": 20.5, "tags": []string{"a", "b"}, "won": true, "closed": nil}
	scenarios := []struct {
		name      string
		src       string
		old       map[string]any
		wantValue any
		wantSet   map[string]any
	}{
		{name: "completion value", src: `1 + 2`, wantValue: int64(3)},
		{name: "no value", src: `let x = 1`, wantValue: nil},
		{name: "top-level return", src: "if (record.amount > 1000) {\n  return 'big'\n}\nreturn 'small'", wantValue: "big"},
		{name: "completion value of if/else", src: `if (record.won) { 'yes' } else { 'no' }`, wantValue: "yes"},
		{name: "completion value of try/catch", src: `try { JSON.parse('{') } catch (e) { e.name }`, wantValue: "SyntaxError"},
		{
			name:    "set",
			src:     "set('total', record.amount * (1 + record.vat / 100));\nset('label', `${record.name} (${record.tags.join(', ')})`);\nset('flags', {won: record.won, closed: record.closed, list: [1, 'two', null, undefined, () => 1]})",
			wantSet: map[string]any{"total": int64(1446), "label": "Acme (a, b)", "flags": map[string]any{"won": true, "closed": nil, "list": []any{int64(1), "two", nil, nil, nil}}},
		},
		{name: "set copies the value", src: `const v = {a: 1}; set('v', v); v.a = 2`, wantValue: int64(2), wantSet: map[string]any{"v": map[string]any{"a": int64(1)}}},
		{name: "record is frozen", src: `Object.isFrozen(record) && Object.isFrozen(record.tags)`, wantValue: true},
		{name: "old is null without Input.Old", src: `old`, wantValue: nil},
		{name: "old", src: `old.amount < record.amount`, old: map[string]any{"amount": 1000}, wantValue: true},
		{name: "now and Date follow Input.Now", src: `[now, new Date().toISOString(), Date.now()]`, wantValue: []any{"2025-03-04T05:06:07.800Z", "2025-03-04T05:06:07.800Z", now.UnixMilli()}},
		{name: "value conversion", src: `({n: 1.5, i: 2, big: 2**60, nan: NaN, neg: -0, d: new Date(0), e: new TypeError('x'), u: undefined, f() {}, s: Symbol('s'), m: new Map([[1, 2]])})`,
			wantValue: map[string]any{"n": 1.5, "i": int64(2), "big": float64(1 << 60), "nan": nil, "neg": 0.0, "d": "1970-01-01T00:00:00.000Z", "e": "TypeError: x", "m": map[string]any{}}},
		{name: "returned promise settles", src: `return (async () => { await null; return 5 })()`, wantValue: int64(5)},
		{name: "strict mode", src: `this === undefined`, wantValue: true},

		// The wrapped built-ins still behave like the standard ones.
		{name: "string built-ins", src: `['ab'.repeat(3), '7'.padStart(3, '0'), 'x'.padEnd(3), 'a'.concat(1, null), 'a-b-c'.split('-'), 'ABC'.toLowerCase(), String.raw` + "`a\\n${1}b`" + `, encodeURIComponent('a b&é'), escape('ä+')]`,
			wantValue: []any{"ababab", "007", "x  ", "a1null", []any{"a", "b", "c"}, "abc", "a\\n1b", "a%20b%26%C3%A9", "%E4+"}},
		{name: "replace patterns", src: `['a-b'.replace('-', '[$&|$$|$\x60|$\']'), '2025-03-04'.replace(/(\d+)-(\d+)-(\d+)/, '$3.$2.$1'), 'x1y22'.replace(/(?<n>\d+)/g, '<$<n>>'), 'aXbX'.replaceAll('X', (m, i) => i), 'aaa'.replace(/a/gy, 'b')]`,
			wantValue: []any{"a[-|$|a|b]b", "04.03.2025", "x<1>y<22>", "a1b3", "bbb"}},
		{name: "global regexp exec loop", src: `const re = /an/g; const found = []; let m; while ((m = re.exec('banana'))) found.push([m.index, m[0], re.lastIndex]); found`,
			wantValue: []any{[]any{int64(1), "an", int64(3)}, []any{int64(3), "an", int64(5)}}},
		{name: "regexp from lastIndex keeps context", src: `const re = /\bb\w/g; re.lastIndex = 2; const a = re.exec('ab bc'); const s = /^x/my; s.lastIndex = 2; [a.index, a[0], s.test('a\nx'), /(?<y>\d{4})/.exec('in 2025').groups.y]`,
			wantValue: []any{int64(3), "bc", true, "2025"}},
		{name: "match, matchAll, search, split", src: `['a1b22'.match(/\d+/g), [...'a1b22'.matchAll(/\d+/g)].map(m => m.index), 'a1b22'.search('\\d'), 'a1b2'.split(/\d/)]`,
			wantValue: []any{[]any{"1", "22"}, []any{int64(1), int64(3)}, int64(1), []any{"a", "b", ""}}},
		{name: "array built-ins", src: `[[1, [2, [3, [4]]]].flat(2), [1, 2].concat([3], 4, [[5]]), [3, undefined, 1, 10].sort(), [3, 1, 2].sort((a, b) => a - b), [1, 2].flatMap(x => [x, x * 10]), Array.from({length: 3}, (_, i) => i * i), Array.from(new Set([1, 1, 2])), Array.of(7, 8), [1, [2, 3]].join(';'), Array(3).length]`,
			wantValue: []any{[]any{int64(1), int64(2), int64(3), []any{int64(4)}}, []any{int64(1), int64(2), int64(3), int64(4), []any{int64(5)}}, []any{int64(1), int64(10), int64(3), nil}, []any{int64(1), int64(2), int64(3)}, []any{int64(1), int64(10), int64(2), int64(20)}, []any{int64(0), int64(1), int64(4)}, []any{int64(1), int64(2)}, []any{int64(7), int64(8)}, "1;2,3", int64(3)}},
		{name: "spread and destructuring", src: `const [a, ...rest] = 'xyz'; let b, c; [b, ...c] = new Map([[1, 2]]).keys(); const {p, ...q} = {p: 1, r: 2}; [a, rest, b, c, p, q, Math.max(...[1, 5, 3]), [...new Set('aab')]]`,
			wantValue: []any{"x", []any{"y", "z"}, int64(1), []any{}, int64(1), map[string]any{"r": int64(2)}, int64(5), []any{"a", "b"}}},
		{name: "generators and iterators", src: `function* g() { yield 1; yield* [2, 3] } const out = []; for (const x of g()) out.push(x); [out, [...g()], Object.fromEntries([['a', 1]])]`,
			wantValue: []any{[]any{int64(1), int64(2), int64(3)}, []any{int64(1), int64(2), int64(3)}, map[string]any{"a": int64(1)}}},
		{name: "JSON", src: `[JSON.stringify({a: [1, 'x', null], b: {c: true}, d: undefined}), JSON.stringify({a: 1, b: {a: 2, c: 3}}, ['a', 'b']), JSON.stringify([1, {x: 2}], null, 2), JSON.stringify({d: new Date(0)}, (k, v) => k === 'd' ? 'date' : v), JSON.parse('{"a":[1,{"b":null}]}', (k, v) => typeof v === 'number' ? v + 1 : v)]`,
			wantValue: []any{`{"a":[1,"x",null],"b":{"c":true}}`, `{"a":1,"b":{"a":2}}`, "[\n  1,\n  {\n    \"x\": 2\n  }\n]", `{"d":"date"}`, map[string]any{"a": []any{int64(2), map[string]any{"b": nil}}}}},
		{name: "constructors keep their identity", src: `[[] instanceof Array, [].constructor === Array, /x/.constructor === RegExp, new Set() instanceof Set, (() => 1) instanceof Function, typeof Function, Function.prototype.constructor === Function]`,
			wantValue: []any{true, true, true, true, true, "function", true}},
		{name: "subclasses", src: `class L extends Array { sum() { return this.reduce((a, b) => a + b, 0) } } class E extends Error {} class C extends Map {} const l = new L(); l.push(1, 2); [l.sum(), l instanceof L, new E('x') instanceof E, new E('x').message, new C([[1, 2]]).get(1)]`,
			wantValue: []any{int64(3), true, true, "x", int64(2)}},
		{name: "apply and bind", src: `const f = function (a, b) { return this.k + a + b }.bind({k: 1}, 2); [f(3), Math.max.apply(null, [1, 9, 3]), f.name]`,
			wantValue: []any{int64(6), int64(9), "bound "}},
		{name: "functions keep inferred names", src: `const f = () => 1; const g = function () {}; class K {} ({h() {}}).h.name + f.name + g.name + K.name`, wantValue: "hfgK"},
		{name: "an array containing itself joins as empty", src: `const a = [1]; a.push(a); String(a)`, wantValue: "1,"},
		{name: "unicode strings", src: `const s = 'héllo wörld 😀'; [s.length, s.toUpperCase(), [...s].length, s.replace(/ö/, 'o')]`,
			wantValue: []any{int64(14), "HÉLLO WÖRLD 😀", int64(13), "héllo world 😀"}},
		{name: "catchable resource errors", src: `const r = []; for (const f of [() => Math.max.apply(null, {length: 2**20}), () => JSON.parse('['.repeat(500)), () => { let a = []; for (let i = 0; i < 300; i++) a = [a]; String(a) }]) { try { f() } catch (e) { r.push(e.name) } } r`,
			wantValue: []any{"RangeError", "RangeError", "RangeError"}},
	}
	sb := sandbox.New()
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			res, err := sb.Run(context.Background(), s.src, sandbox.Input{Record: record, Old: s.old, Now: now})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !reflect.DeepEqual(res.Value, s.wantValue) {
				t.Errorf("Value:\n got %#v\nwant %#v", res.Value, s.wantValue)
			}
			if !reflect.DeepEqual(res.Set, s.wantSet) {
				t.Errorf("Set:\n got %#v\nwant %#v", res.Set, s.wantSet)
			}
		})
	}
}

func TestSyntaxError(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name    string
		src     string
		line    int
		column  int
		message string
	}{
		{name: "unexpected token", src: `let x = ;`, line: 1, column: 9, message: "Unexpected token ;"},
		{name: "later line", src: "const a = 1;\n\nconst b = a +;", line: 3, column: 14, message: "Unexpected token ;"},
		{name: "column in UTF-16 code units", src: `let s = '😀'; let t = ;`, line: 1, column: 23, message: "Unexpected token ;"},
		{name: "lone carriage returns end lines", src: "let a = 1;\r\rlet b = ;", line: 3, column: 9, message: "Unexpected token ;"},
		{name: "CRLF and U+2028 end lines", src: "let a = 1;\r\n\u2028let é = ;", line: 3, column: 9, message: "Unexpected token ;"},
		{name: "unterminated block", src: "if (true) {\n  set('a', 1)", line: 2, column: 14, message: "Unexpected end of input"},
		{name: "strict mode", src: "let a = 1;\nwith (a) {}", line: 2, column: 1, message: "with statement"},
		{name: "closing the wrapper", src: "}}); set('x', 1); (function(){return function(){", line: 1, column: 1, message: "Unexpected token }"},
		{name: "backreference", src: "const ok = /a+b/;\nconst bad = /(a+)+\\1/", line: 2, column: 13, message: "backreferences are not supported"},
		{name: "lookahead", src: `/a(?=b)/.test('ab')`, line: 1, column: 1, message: "lookahead"},
		{name: "BigInt", src: `const n = 10n`, line: 1, column: 11, message: "BigInt is not supported"},
		{name: "array rest in parameters", src: `function f([a, ...b]) {}`, line: 1, column: 12, message: "rest element"},
		{name: "deep nesting", src: "const a = " + strings.Repeat("[", 300) + strings.Repeat("]", 300), line: 1, column: 267, message: "nest deeper than 256"},
		{name: "long chain", src: "1" + strings.Repeat("+1", 1000), line: 1, column: 1, message: "nests deeper than 512"},
		{name: "too long", src: strings.Repeat(" ", 65<<10), line: 1, column: 1, message: "more than the 65536 allowed"},
		{name: "nested object statements parse in bounded time", src: strings.Repeat("{a:", 20000), line: 1, column: 769, message: "nest deeper than 256"},
	}
	sb := sandbox.New()
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			for _, check := range []func() error{
				func() error { return sb.Compile(s.src) },
				func() error { _, err := sb.Run(context.Background(), s.src, sandbox.Input{}); return err },
			} {
				var se *sandbox.SyntaxError
				if err := check(); !errors.As(err, &se) {
					t.Fatalf("got %v; want a *SyntaxError", err)
				}
				if se.Line != s.line || se.Column != s.column || !strings.Contains(se.Message, s.message) {
					t.Errorf("got %d:%d %q; want %d:%d containing %q", se.Line, se.Column, se.Message, s.line, s.column, s.message)
				}
			}
		})
	}
	if err := sb.Compile("set('a', 1)"); err != nil {
		t.Errorf("Compile of a valid script: %v", err)
	}
}

func TestScriptError(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name    string
		src     string
		line    int
		column  int
		message string
	}{
		{name: "throw", src: "const a = 1;\nthrow new Error('boom')", line: 2, column: 7, message: "Error: boom"},
		{name: "thrown string", src: `throw 'plain'`, line: 1, column: 1, message: "plain"},
		{name: "after CRLF and a lone CR", src: "const a = 1;\r\n\rthrow new Error('boom')", line: 3, column: 7, message: "Error: boom"},
		{name: "type error", src: "\n\n  record.missing.x", line: 3, column: 18, message: "TypeError: Cannot read property 'x' of undefined"},
		{name: "in a function", src: "function f() {\n  return undefinedVariable\n}\nf()", line: 2, column: 10, message: "ReferenceError: undefinedVariable is not defined"},
		{name: "record cannot be changed", src: `record.name = 'x'`, line: 1, column: 8, message: "read only"},
		{name: "stack overflow", src: `function f() { return f() } f()`, line: 1, column: 24, message: "Maximum call stack size exceeded"},
		{name: "rejected promise", src: `return Promise.reject(new Error('later'))`, message: "later"},
		{name: "cycle in the value", src: `const a = {}; a.a = a; a`, message: "cycle"},
	}
	sb := sandbox.New()
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			_, err := sb.Run(context.Background(), s.src, sandbox.Input{Record: map[string]any{"name": "n"}})
			var se *sandbox.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("got %v; want a *ScriptError", err)
			}
			if se.Line != s.line || se.Column != s.column || !strings.Contains(se.Message, s.message) {
				t.Errorf("got %d:%d %q; want %d:%d containing %q", se.Line, se.Column, se.Message, s.line, s.column, s.message)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name string
		src  string
		opts []sandbox.Option
		want []error // any of them
	}{
		{name: "endless loop", src: `while (true) {}`, want: []error{sandbox.ErrTimeout}},
		{name: "endless loop with try/catch", src: `for (;;) { try { while (true) {} } catch (e) {} finally { continue } }`, want: []error{sandbox.ErrTimeout}},
		{name: "endless recursion through callbacks", src: `function f() { [1].forEach(f) } for (;;) { try { f() } catch (e) {} }`, want: []error{sandbox.ErrTimeout, sandbox.ErrMemory}},
		{name: "repeat", src: `'x'.repeat(2**28)`, want: []error{sandbox.ErrMemory}},
		{name: "repeat caught", src: `try { 'x'.repeat(2**28) } catch (e) { 'caught' }`, want: []error{sandbox.ErrMemory}},
		{name: "padStart", src: `'x'.padStart(2**30, 'ab')`, want: []error{sandbox.ErrMemory}},
		{name: "padEnd", src: `'x'.padEnd(2**30)`, want: []error{sandbox.ErrMemory}},
		{name: "concat", src: `const s = 'y'.repeat(600000); 'x'.concat(s, s)`, want: []error{sandbox.ErrMemory}},
		{name: "doubling concatenation", src: `let s = 'x'; while (true) s += s;`, want: []error{sandbox.ErrMemory, sandbox.ErrTimeout}},
		{name: "template literal", src: "let s = 'x'; for (;;) s = `${s}${s}`", want: []error{sandbox.ErrMemory}},
		{name: "concatenation loop", src: `let s = ''; for (;;) s += 'abcdefgh'`, want: []error{sandbox.ErrMemory, sandbox.ErrTimeout}},
		{name: "new Array(1e9).fill", src: `new Array(1e9).fill(0)`, want: []error{sandbox.ErrMemory}},
		{name: "Array(2**31)", src: `Array(2**31)`, want: []error{sandbox.ErrMemory}},
		{name: "[].constructor(2**32-1).fill", src: `[].constructor(2**32 - 1).fill(0)`, want: []error{sandbox.ErrMemory}},
		{name: "Array.from length", src: `Array.from({length: 2**30})`, want: []error{sandbox.ErrMemory}},
		{name: "join of a huge array", src: `const a = []; a.length = 2**32 - 1; a.join('x')`, want: []error{sandbox.ErrMemory}},
		{name: "join of long strings", src: `Array(100).fill('x'.repeat(20000)).join('')`, want: []error{sandbox.ErrMemory}},
		{name: "JSON.stringify", src: `const s = 'x'.repeat(100000); JSON.stringify(Array(100).fill(s))`, want: []error{sandbox.ErrMemory}},
		{name: "JSON.stringify indented", src: `const o = {}; let c = o; for (let i = 0; i < 90; i++) c = c.a = {}; JSON.stringify(Array(2000).fill(o), null, 10)`, want: []error{sandbox.ErrMemory}},
		{name: "replace expansion", src: `'x'.repeat(100000).replace(/x/g, '$&'.repeat(200))`, want: []error{sandbox.ErrMemory}},
		{name: "replaceAll with a function", src: `'x'.repeat(1000).replaceAll('x', () => 'y'.repeat(2000))`, want: []error{sandbox.ErrMemory}},
		{name: "String.raw", src: `String.raw({raw: {length: 1e9}})`, want: []error{sandbox.ErrMemory}},
		{name: "sparse array spread", src: `const a = []; a.length = 2**32 - 1; [...a]`, want: []error{sandbox.ErrMemory}},
		{name: "endless native iterator", src: `[...{[Symbol.iterator]: () => ({next: Object})}]`, want: []error{sandbox.ErrMemory, sandbox.ErrTimeout}},
		{name: "endless native iterator in new Set", src: `new Set({[Symbol.iterator]: () => ({next: Object})})`, want: []error{sandbox.ErrMemory, sandbox.ErrTimeout}},
		{name: "endless native iterator in Promise.all", src: `Promise.all({[Symbol.iterator]: () => ({next: Object})})`, want: []error{sandbox.ErrMemory, sandbox.ErrTimeout}},
		{name: "endless native iterator in destructuring", src: `const [a, ...b] = {[Symbol.iterator]: () => ({next: Object})}`, want: []error{sandbox.ErrMemory, sandbox.ErrTimeout}},
		{name: "objects in a loop", src: `const a = []; for (let i = 0; ; i++) a[i] = {i};`, want: []error{sandbox.ErrMemory}},
		{name: "closures in a loop", src: `const a = []; for (let i = 0; ; i++) a.push(() => i);`, want: []error{sandbox.ErrMemory}},
		{name: "map entries in a loop", src: `const m = new Map(); for (let i = 0; ; i++) m.set(i, i);`, opts: []sandbox.Option{sandbox.MaxAllocBytes(1 << 20)}, want: []error{sandbox.ErrMemory}},
		{name: "smaller budget", src: `'x'.repeat(3000)`, opts: []sandbox.Option{sandbox.MaxAllocBytes(4000)}, want: []error{sandbox.ErrMemory}},
		{name: "smaller string limit", src: `'x'.repeat(11)`, opts: []sandbox.Option{sandbox.MaxStringLength(10)}, want: []error{sandbox.ErrMemory}},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			// Scripts expected to exhaust a memory budget get time enough to, even on a machine
			// busy with other tests (the budget, not the clock, must stop them; a quiet run takes
			// well under a second, and a generous limit costs nothing when the budget works).
			timeout := 20 * time.Second
			if slices.Contains(s.want, sandbox.ErrTimeout) {
				timeout = 200 * time.Millisecond
			}
			sb := sandbox.New(append([]sandbox.Option{sandbox.Timeout(timeout)}, s.opts...)...)
			start := time.Now()
			res, err := sb.Run(context.Background(), s.src, sandbox.Input{})
			if elapsed := time.Since(start); elapsed > timeout+2*time.Second {
				t.Errorf("Run took %v, past its %v limit", elapsed, timeout)
			}
			if !slices.ContainsFunc(s.want, func(want error) bool { return errors.Is(err, want) }) {
				t.Fatalf("got %v; want one of %v", err, s.want)
			}
			if res == nil || res.Value != nil || res.Set != nil {
				t.Errorf("Result after an error: %+v", res)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	const limit = 100 * time.Millisecond
	sb := sandbox.New(sandbox.Timeout(limit))
	start := time.Now()
	_, err := sb.Run(context.Background(), "let i = 0;\nwhile (true) { i++ }", sandbox.Input{})
	elapsed := time.Since(start)
	if !errors.Is(err, sandbox.ErrTimeout) {
		t.Fatalf("got %v; want ErrTimeout", err)
	}
	if elapsed < limit || elapsed > 5*time.Second {
		t.Errorf("stopped after %v; want about %v", elapsed, limit)
	}
	if !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %q does not say where the script was", err)
	}
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.Timeout(time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := sb.Run(ctx, `while (true) {}`, sandbox.Input{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, sandbox.ErrTimeout) {
		t.Errorf("got %v; want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("stopped after %v", elapsed)
	}

	if _, err := sb.Run(ctx, `1`, sandbox.Input{}); !errors.Is(err, context.Canceled) {
		t.Errorf("with a canceled context: got %v; want context.Canceled", err)
	}
}

func TestEscapes(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name      string
		src       string
		wantValue any    // when the script runs
		wantError string // in the error, when it does not
	}{
		{name: "no host objects", src: `['require', 'process', 'console', '$os', '$http', '$app', 'module', 'Buffer', 'setTimeout', 'BigInt', 'Proxy', 'Reflect', 'Uint8Array', 'ArrayBuffer', 'WeakMap', 'GoError'].filter(n => n in globalThis || typeof globalThis[n] !== 'undefined')`, wantValue: []any{}},
		{name: "eval", src: `eval('1 + 1')`, wantError: "eval is disabled"},
		{name: "indirect eval", src: `(0, globalThis.eval)('this')`, wantError: "eval is disabled"},
		{name: "Function", src: `Function('return this')()`, wantError: "Function constructor is disabled"},
		{name: "new Function", src: `new Function('return 1')`, wantError: "Function constructor is disabled"},
		{name: "constructor of a function", src: `(() => 1).constructor('return this')()`, wantError: "Function constructor is disabled"},
		{name: "globalThis.constructor trick", src: `globalThis.constructor.constructor('return this')()`, wantError: "Function constructor is disabled"},
		{name: "generator function constructor", src: `Object.getPrototypeOf(function* () {}).constructor('yield 1')`, wantError: "GeneratorFunction constructor is disabled"},
		{name: "async function constructor", src: `(async () => {}).constructor('return 1')`, wantError: "AsyncFunction constructor is disabled"},
		{name: "RegExp with backreference", src: `new RegExp('(a+)+\\1')`, wantError: "SyntaxError"},
		{name: "string pattern with backreference", src: `'aaa'.match('(a)\\1')`, wantError: "SyntaxError"},
		{name: "recompiling a regexp", src: `/a/.compile('(a)\\1')`, wantError: "no member 'compile'"},
		{name: "backtracking from lastIndex", src: `const re = /(a+)+$/g; re.lastIndex = 1; re.exec('a'.repeat(40) + 'b')`, wantValue: nil},
		{name: "replacing the array iterator", src: `Array.prototype[Symbol.iterator] = function* () {}`, wantError: "read only"},
		{name: "accessor length", src: `Array.prototype.join.call({get length() { return 2**32 - 1 }})`, wantError: "accessor length"},
		{name: "BigInt through a value", src: `typeof Object(1).constructor.BigInt`, wantValue: "undefined"},
		{name: "globals", src: `Object.keys(globalThis).sort()`, wantValue: []any{"create", "find", "log", "now", "old", "record", "set", "update"}},
	}
	sb := sandbox.New(sandbox.Timeout(time.Second))
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			res, err := sb.Run(context.Background(), s.src, sandbox.Input{})
			if s.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), s.wantError) {
					t.Fatalf("got %v, %#v; want an error containing %q", err, res.Value, s.wantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !reflect.DeepEqual(res.Value, s.wantValue) {
				t.Errorf("got %#v; want %#v", res.Value, s.wantValue)
			}
		})
	}
}

func TestGlobalsDoNotLeak(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	first := `globalThis.leak = 1; var v = 2; Array.prototype.extra = 3; Object.prototype.polluted = 4; JSON.parse = () => 5`
	if _, err := sb.Run(context.Background(), first, sandbox.Input{}); err != nil {
		t.Fatalf("first run: %v", err)
	}
	res, err := sb.Run(context.Background(), `[typeof leak, typeof v, typeof [].extra, typeof ({}).polluted, JSON.parse('6')]`, sandbox.Input{})
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	want := []any{"undefined", "undefined", "undefined", "undefined", int64(6)}
	if !reflect.DeepEqual(res.Value, want) {
		t.Errorf("got %#v; want %#v", res.Value, want)
	}
}

// memStore is a tiny in-memory Store: find matches records whose fields equal the params.
type memStore struct {
	mu      sync.Mutex
	records map[string][]map[string]any
	finds   []string // object, filter and limit of each Find
	err     error    // returned by every call when set
	panics  bool
}

func (s *memStore) Find(ctx context.Context, q sandbox.Query) ([]map[string]any, error) {
	object, filter, params, limit := q.Object, q.Filter, q.Params, q.Limit
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panics {
		panic("store bug")
	}
	if s.err != nil {
		return nil, s.err
	}
	s.finds = append(s.finds, fmt.Sprintf("%s|%s|%d", object, filter, limit))
	var out []map[string]any
	skip := q.Offset
	for _, rec := range s.records[object] {
		if len(out) < limit && matches(rec, params) {
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, maps.Clone(rec))
		}
	}
	return out, ctx.Err()
}

func (s *memStore) Update(ctx context.Context, object, id string, values map[string]any) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	for _, rec := range s.records[object] {
		if rec["id"] == id {
			maps.Copy(rec, values)
			return maps.Clone(rec), nil
		}
	}
	return nil, fmt.Errorf("no %s %s", object, id)
}

func (s *memStore) Create(ctx context.Context, object string, values map[string]any) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	rec := maps.Clone(values)
	rec["id"] = fmt.Sprintf("%s_%d", object, len(s.records[object])+1)
	if s.records == nil {
		s.records = map[string][]map[string]any{}
	}
	s.records[object] = append(s.records[object], rec)
	return rec, nil
}

func matches(rec, params map[string]any) bool {
	for k, v := range params {
		if fmt.Sprint(rec[k]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

func TestStore(t *testing.T) {
	t.Parallel()
	newStore := func() *memStore {
		return &memStore{records: map[string][]map[string]any{
			"deals": {
				{"id": "d1", "company": "c1", "amount": 100, "stage": "won"},
				{"id": "d2", "company": "c1", "amount": 250, "stage": "open"},
				{"id": "d3", "company": "c2", "amount": 999, "stage": "open"},
			},
		}}
	}
	scenarios := []struct {
		name      string
		src       string
		wantValue any
		wantCalls int
		wantFinds []string
	}{
		{
			name:      "find",
			src:       `find('deals', 'company = {:company}', {company: record.company}).map(d => d.amount)`,
			wantValue: []any{int64(100), int64(250)}, wantCalls: 1, wantFinds: []string{"deals|company = {:company}|50"},
		},
		{
			name:      "find with a limit",
			src:       `find('deals', '', null, 1).length`,
			wantValue: int64(1), wantCalls: 1, wantFinds: []string{"deals||1"},
		},
		{
			name:      "create",
			src:       `const t = create('tasks', {title: 'Call ' + record.company, due: now}); [t.id, t.title, find('tasks', '', {id: t.id})[0].due]`,
			wantValue: []any{"tasks_1", "Call c1", "2025-03-04T05:06:07.800Z"}, wantCalls: 2, wantFinds: []string{"tasks||50"},
		},
		{
			name:      "store results are plain objects",
			src:       `const d = find('deals', '')[0]; d.extra = 1; [Object.isFrozen(d), Array.isArray(find('deals', ''))]`,
			wantValue: []any{false, true}, wantCalls: 2, wantFinds: []string{"deals||50", "deals||50"},
		},
		{
			name:      "bad arguments are thrown before calling the store",
			src:       `const r = []; for (const f of [() => find(''), () => find('deals', 1), () => find('deals', '', [], 5), () => find('deals', '', null, 201), () => create('tasks'), () => create('tasks', 'x')]) { try { f() } catch (e) { r.push(e.name) } } r`,
			wantValue: []any{"TypeError", "TypeError", "TypeError", "RangeError", "TypeError", "TypeError"},
		},
	}
	sb := sandbox.New()
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			store := newStore()
			res, err := sb.Run(context.Background(), s.src, sandbox.Input{Record: map[string]any{"company": "c1"}, Store: store, Now: now})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !reflect.DeepEqual(res.Value, s.wantValue) {
				t.Errorf("Value: got %#v; want %#v", res.Value, s.wantValue)
			}
			if res.Calls != s.wantCalls {
				t.Errorf("Calls: got %d; want %d", res.Calls, s.wantCalls)
			}
			if !slices.Equal(store.finds, s.wantFinds) {
				t.Errorf("finds: got %q; want %q", store.finds, s.wantFinds)
			}
		})
	}
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	errDown := errors.New("database is down")
	sb := sandbox.New()
	ctx := context.Background()

	_, err := sb.Run(ctx, `find('deals', '')`, sandbox.Input{})
	var se *sandbox.ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "no store") {
		t.Errorf("without a store: got %v; want a ScriptError saying there is no store", err)
	}

	store := &memStore{err: errDown}
	_, err = sb.Run(ctx, "\ncreate('tasks', {})", sandbox.Input{Store: store})
	if !errors.As(err, &se) || !errors.Is(err, errDown) || se.Line != 2 {
		t.Errorf("store error: got %v; want a ScriptError at line 2 wrapping %v", err, errDown)
	}

	res, err := sb.Run(ctx, `try { find('deals', '') } catch (e) { e.message }`, sandbox.Input{Store: store})
	if err != nil || res.Value != "find deals: database is down" || res.Calls != 1 {
		t.Errorf("caught store error: got %#v, %d calls, %v", res.Value, res.Calls, err)
	}

	_, err = sb.Run(ctx, `find('deals', '')`, sandbox.Input{Store: &memStore{panics: true}})
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("panicking store: got %v; want an error saying it panicked", err)
	}
}

func TestMaxCalls(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.MaxCalls(3))
	store := &memStore{}
	res, err := sb.Run(context.Background(), `for (let i = 0; i < 10; i++) { try { create('tasks', {i}) } catch (e) {} }`, sandbox.Input{Store: store})
	if !errors.Is(err, sandbox.ErrCallLimit) {
		t.Fatalf("got %v; want ErrCallLimit", err)
	}
	if res.Calls != 3 || len(store.records["tasks"]) != 3 {
		t.Errorf("got %d calls and %d records; want 3 of each", res.Calls, len(store.records["tasks"]))
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	res, err := sb.Run(context.Background(), `log('a', 1, {b: [2, null]}, undefined, new Error('e')); log(); log('é'.repeat(40000), 'x'.repeat(10)); log('dropped')`, sandbox.Input{})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Logs) != 3 || res.Logs[0] != `a 1 {"b":[2,null]} undefined Error: e` || res.Logs[1] != "" {
		t.Fatalf("got %q", res.Logs[:min(2, len(res.Logs))])
	}
	if total := len(res.Logs[0]) + len(res.Logs[2]); total > 64<<10+100 || !strings.HasSuffix(res.Logs[2], "(log truncated)") {
		t.Errorf("last line: %d bytes in all, ends with %q", total, res.Logs[2][len(res.Logs[2])-20:])
	}

	res, err = sb.Run(context.Background(), `for (let i = 0; i < 150; i++) log(i)`, sandbox.Input{})
	if err != nil || len(res.Logs) != 101 || res.Logs[99] != "99" || !strings.Contains(res.Logs[100], "truncated") {
		t.Errorf("got %d lines, %v", len(res.Logs), err)
	}

	res, _ = sb.Run(context.Background(), `log('before'); null.x`, sandbox.Input{})
	if !slices.Equal(res.Logs, []string{"before"}) {
		t.Errorf("logs of a failed run: got %q", res.Logs)
	}
}

func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			src := fmt.Sprintf(`let s = 0; for (let j = 0; j < 1000; j++) s += j; set('n', %d); s + %d`, i, i)
			res, err := sb.Run(context.Background(), src, sandbox.Input{})
			if err != nil || res.Value != int64(499500+i) || res.Set["n"] != int64(i) {
				t.Errorf("run %d: got %#v, %#v, %v", i, res.Value, res.Set, err)
			}
		})
	}
	wg.Wait()
}

// update changes a record through the Store; find pages with offset and sorts; names used as
// literals are listed by Calls with their positions.
func TestUpdateAndPaging(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	store := &memStore{records: map[string][]map[string]any{"deals": {
		{"id": "d1", "stage": "lead"}, {"id": "d2", "stage": "lead"}, {"id": "d3", "stage": "lead"},
	}}}
	res, err := sb.Run(context.Background(), `
		const page2 = find('deals', '', {}, {limit: 2, offset: 2, sort: 'id'});
		const d = update('deals', page2[0].id, {stage: 'won'});
		[page2.length, d.id, d.stage]`, sandbox.Input{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{int64(1), "d3", "won"}; !reflect.DeepEqual(res.Value, want) {
		t.Errorf("got %#v; want %#v", res.Value, want)
	}
	if store.records["deals"][2]["stage"] != "won" {
		t.Errorf("the store was not updated: %v", store.records["deals"])
	}
	for src, want := range map[string]string{
		`find('deals', '', {}, {limit: 0})`:                             "the limit must be an integer from 1 to 200",
		`find('deals', '', {}, {offset: -1})`:                           "the offset must be an integer from 0 to 100000",
		`find('deals', '', {}, {page: 2})`:                              `unknown option "page"`,
		`update('deals', '', {stage: 'won'})`:                           "the record id must be a non-empty string",
		`update('deals', 'd1')`:                                         "the values must be an object",
		`try { update('deals', 'nope', {a: 1}) } catch (e) { throw e }`: "no deals nope",
	} {
		if _, err := sb.Run(context.Background(), src, sandbox.Input{Store: store}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want …%s…", src, err, want)
		}
	}
	calls, err := sandbox.Calls("const x = 1;\nfind('deals', 'stage = \"won\"');\ncreate(\"tasks\", {subject: 'a', 'due': x, [x]: 2});\nupdate('deals', x, {stage});\nfind(x)")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(len(calls))
	for _, c := range calls {
		got += fmt.Sprintf(" %s %s@%d:%d", c.Func, c.Object.Value, c.Object.Line, c.Object.Column)
		if c.Filter != nil {
			got += fmt.Sprintf(" filter %s@%d:%d", c.Filter.Value, c.Filter.Line, c.Filter.Column)
		}
		for _, f := range c.Fields {
			got += fmt.Sprintf(" %s@%d:%d", f.Value, f.Line, f.Column)
		}
	}
	if want := `3 find deals@2:6 filter stage = "won"@2:15 create tasks@3:8 subject@3:18 due@3:32 update deals@4:8 stage@4:21`; got != want {
		t.Errorf("Calls:\n got %s\nwant %s", got, want)
	}
}
