package sandbox

import (
	"github.com/dop251/goja"
)

// Regular expressions. goja compiles a pattern for Go's regexp package (linear time) when it
// can, and otherwise for regexp2, a backtracking engine that no interrupt stops: /(a+)+$/ on 40
// characters never ends. So patterns regexp2 would be needed for (lookaround, backreferences)
// are refused, by compile for literals and by the RegExp constructor here. goja also falls back
// to regexp2 for any pattern matched from a non-zero lastIndex (a global or sticky exec loop),
// because Go's package cannot start a match mid-string; exec below avoids that by matching the
// rest of the string, preceded by one character of context, with a shadow regexp.

// regexpFlags are the flag characters and the RegExp.prototype getters that report them.
var regexpFlags = []struct{ flag, getter string }{
	{"g", "global"}, {"i", "ignoreCase"}, {"m", "multiline"}, {"s", "dotAll"}, {"u", "unicode"}, {"y", "sticky"},
}

func (r *run) wrapRegExp(g *goja.Object) {
	const label = "RegExp.prototype"
	orig := r.regexpCtor
	r.define(g, "RegExp", r.constructor(orig, func(call goja.ConstructorCall) *goja.Object {
		r.enter("RegExp")
		defer r.leave()
		pattern, flags := call.Argument(0), call.Argument(1)
		var src goja.Value = r.vm.ToValue("")
		if rx, ok := pattern.(*goja.Object); ok && rx.ClassName() == "RegExp" {
			src = r.call(r.regexpSource, rx)
			if goja.IsUndefined(flags) {
				flags = r.vm.ToValue(r.flags(rx))
			}
		} else if !goja.IsUndefined(pattern) {
			src = r.toString(pattern)
		}
		if !goja.IsUndefined(flags) {
			flags = r.toString(flags)
		} else {
			flags = r.vm.ToValue("")
		}
		if msg := checkRegexp(src.String(), flags.String()); msg != "" {
			panic(r.newError(r.syntaxError, "Invalid regular expression: /"+src.String()+"/: "+msg))
		}
		return r.construct(orig, call, src, flags)
	}))

	p := r.regexpProto
	r.wrap(p, label, "exec", func(_ goja.Callable, call goja.FunctionCall) goja.Value {
		return r.exec(call.This, call.Argument(0))
	})
	r.wrap(p, label, "test", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		rx, ok := call.This.(*goja.Object)
		if !ok {
			return r.call(orig, call.This)
		}
		return r.vm.ToValue(!goja.IsNull(r.regexpExecAbstract(rx, r.toString(call.Argument(0)))))
	})
	r.execWrapper = r.object(p, "exec")
	r.wrapSymbol(p, goja.SymMatch, label+"[Symbol.match]", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		rx, ok := call.This.(*goja.Object)
		if !ok || rx.ClassName() != "RegExp" {
			return r.call(orig, call.This, call.Arguments...)
		}
		const what = label + "[Symbol.match]"
		s := r.toString(call.Argument(0))
		if !r.call(r.regexpGlobal, rx).ToBoolean() {
			return r.regexpExecAbstract(rx, s)
		}
		var found []goja.Value
		r.eachMatch(rx, s, func(m *match) {
			found = append(found, m.matched)
			r.checkElements(int64(len(found)), what)
			r.charge(elementBytes, what)
		})
		if found == nil {
			return goja.Null()
		}
		r.charge(allocArrayBase, what)
		return r.newArray(found, false)
	})
	r.wrapSymbol(p, goja.SymReplace, label+"[Symbol.replace]", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		rx, ok := call.This.(*goja.Object)
		if !ok || rx.ClassName() != "RegExp" {
			return r.call(orig, call.This, call.Arguments...)
		}
		const what = label + "[Symbol.replace]"
		s := r.toString(call.Argument(0))
		replace, _, _ := r.replacer(s, call.Argument(1), what)
		var b goja.StringBuilder
		next := 0
		if !r.call(r.regexpGlobal, rx).ToBoolean() {
			if m := r.toMatch(r.regexpExecAbstract(rx, s), 0, false); m != nil {
				next = r.replaceMatch(&b, s, next, m, replace)
			}
		} else {
			r.eachMatch(rx, s, func(m *match) {
				next = r.replaceMatch(&b, s, next, m, replace)
			})
		}
		b.WriteSubstring(s, next, s.Length())
		out := b.String()
		r.chargeString(int64(out.Length()), what)
		return out
	})
	r.wrapSymbol(p, goja.SymSplit, label+"[Symbol.split]", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		rx, ok := call.This.(*goja.Object)
		if !ok || rx.ClassName() != "RegExp" {
			return r.call(orig, call.This, call.Arguments...)
		}
		return r.split(rx, r.toString(call.Argument(0)), call.Argument(1))
	})
}

// match is one match of a regexp, without the array exec returns for it.
type match struct {
	index    int
	matched  goja.String
	captures []goja.Value // undefined for groups that did not take part
	groups   goja.Value   // undefined without named groups
}

// eachMatch runs a global regexp over s from the start, as Symbol.match and Symbol.replace do,
// calling f with each match as it is found. Unlike the specification, which collects every match
// before using one, it keeps none: a string of a million matches does not become a million arrays.
func (r *run) eachMatch(rx *goja.Object, s goja.String, f func(m *match)) {
	unicode := containsByte(r.flags(rx), 'u')
	builtin := rx.Get("exec") == r.execWrapper
	r.setLastIndex(rx, 0)
	for {
		r.poll()
		var m *match
		if builtin {
			m, _ = r.execMatch(rx, s)
		} else {
			m = r.toMatch(r.regexpExecAbstract(rx, s), 0, false)
		}
		if m == nil {
			return
		}
		if m.matched.Length() == 0 {
			r.setLastIndex(rx, advance(s, toLength(rx.Get("lastIndex")), unicode))
		}
		f(m)
	}
}

// replaceMatch writes to b the part of s from next to the match m and m's replacement, and
// returns where the rest of s starts.
func (r *run) replaceMatch(b *goja.StringBuilder, s goja.String, next int, m *match, replace func([]goja.Value) goja.String) int {
	position := max(0, min(m.index, s.Length()))
	args := make([]goja.Value, 0, len(m.captures)+4)
	args = append(args, m.matched)
	for _, c := range m.captures {
		if !isNullish(c) {
			c = r.toString(c)
		}
		args = append(args, c)
	}
	args = append(args, r.vm.ToValue(position), s)
	if !isNullish(m.groups) {
		args = append(args, m.groups.ToObject(r.vm))
	}
	repl := replace(args)
	if position < next {
		return next // the specification ignores a match that overlaps the previous one
	}
	b.WriteSubstring(s, next, position)
	b.WriteString(repl)
	return min(position+m.matched.Length(), s.Length())
}

// split is RegExp.prototype[Symbol.split]. The specification tries a sticky match at every
// position; searching for the next match finds the same ones, in one exec per match instead of
// one per character. The splitter is a plain RegExp (a subclass's Symbol.species is not used).
func (r *run) split(rx *goja.Object, s goja.String, limit goja.Value) goja.Value {
	const what = "RegExp.prototype[Symbol.split]"
	lim := int64(1<<32 - 1)
	if !goja.IsUndefined(limit) {
		lim = int64(uint32(toInteger(limit)))
	}
	flags := r.flags(rx)
	unicode := containsByte(flags, 'u')
	splitFlags := "g"
	for _, c := range flags {
		if c != 'g' && c != 'y' {
			splitFlags += string(c)
		}
	}
	splitter, err := r.vm.New(r.regexpCtor, r.call(r.regexpSource, rx), r.vm.ToValue(splitFlags))
	if err != nil {
		panic(err)
	}
	var out []goja.Value
	push := func(v goja.Value) bool {
		out = append(out, v)
		r.checkElements(int64(len(out)), what)
		r.charge(elementBytes, what)
		return int64(len(out)) >= lim
	}
	size := s.Length()
	done := lim == 0
	if !done && size == 0 {
		if m, _ := r.execMatch(splitter, s); m == nil {
			push(s)
		}
		done = true
	}
	p := 0
	for q := 0; !done && q < size; {
		r.setLastIndex(splitter, int64(q))
		m, _ := r.execMatch(splitter, s)
		if m == nil {
			break
		}
		start := m.index
		end := min(start+m.matched.Length(), size)
		if start >= size {
			break
		}
		if end == p {
			q = int(advance(s, int64(start), unicode))
			continue
		}
		if done = push(s.Substring(p, start)); done {
			break
		}
		p = end
		for i := 0; i < len(m.captures) && !done; i++ {
			done = push(m.captures[i])
		}
		q = p
	}
	if !done {
		push(s.Substring(p, size))
	}
	r.charge(allocArrayBase, what)
	return r.newArray(out, false)
}

// advance is AdvanceStringIndex.
func advance(s goja.String, i int64, unicode bool) int64 {
	if unicode && i+1 < int64(s.Length()) {
		if c := s.CharAt(int(i)); c >= 0xD800 && c < 0xDC00 {
			if d := s.CharAt(int(i) + 1); d >= 0xDC00 && d < 0xE000 {
				return i + 2
			}
		}
	}
	return i + 1
}

// flags returns rx's flags as its internal slots have them; a script can shadow the getters on
// the object, but not these.
func (r *run) flags(rx *goja.Object) string {
	if s, ok := r.regexpFlagsOf[rx]; ok {
		return s // a regexp's flags never change (compile is gone)
	}
	var s string
	for i, f := range regexpFlags {
		if r.call(r.regexpFlagGetters[i], rx).ToBoolean() {
			s += f.flag
		}
	}
	r.regexpFlagsOf[rx] = s
	return s
}

// regexpExecAbstract is RegExpExec: the object's exec if it has one, else the built-in.
func (r *run) regexpExecAbstract(rx *goja.Object, s goja.String) goja.Value {
	if fn, ok := goja.AssertFunction(rx.Get("exec")); ok {
		res := r.call(fn, rx, s)
		if _, ok := res.(*goja.Object); !ok && !goja.IsNull(res) {
			r.throwType("RegExp exec method returned something other than an Object or null")
		}
		return res
	}
	return r.exec(rx, s)
}

// exec is RegExp.prototype.exec; see execMatch.
func (r *run) exec(this, arg goja.Value) goja.Value {
	rx, ok := this.(*goja.Object)
	if !ok || rx.ClassName() != "RegExp" {
		return r.call(r.regexpExec, this, arg)
	}
	s := r.toString(arg)
	m, raw := r.execMatch(rx, s)
	switch {
	case raw != nil:
		return raw
	case m == nil:
		return goja.Null()
	}
	items := make([]any, 0, len(m.captures)+1)
	items = append(items, m.matched)
	for _, c := range m.captures {
		items = append(items, c)
	}
	out := r.vm.NewArray(items...)
	r.must(out.Set("index", m.index))
	r.must(out.Set("input", s))
	r.must(out.Set("groups", m.groups))
	return out
}

// execMatch is the built-in exec of rx on s. goja's exec is used as it is when it matches from
// the start of s, and its array returned as raw; from a non-zero lastIndex, a shadow regexp
// ([\d\D])(?:pattern) runs on s from lastIndex-1: its first group consumes the character of
// context that ^ (with the m flag), \b and \B look at, and goja matches it from index 0, on Go's engine.
func (r *run) execMatch(rx *goja.Object, s goja.String) (m *match, raw goja.Value) {
	var last int64
	if flags := r.flags(rx); containsByte(flags, 'g') || containsByte(flags, 'y') {
		last = toLength(rx.Get("lastIndex"))
	}
	if last == 0 {
		raw = r.call(r.regexpExec, rx, s)
		if m = r.toMatch(raw, 0, false); m == nil {
			raw = nil
		}
		return m, raw
	}
	if last > int64(s.Length()) {
		r.setLastIndex(rx, 0)
		return nil, nil
	}
	shadow := r.shadow(rx)
	r.setLastIndex(shadow, 0)
	m = r.toMatch(r.call(r.regexpExec, shadow, s.Substring(int(last)-1, s.Length())), int(last)-1, true)
	if m == nil {
		r.setLastIndex(rx, 0)
		return nil, nil
	}
	r.setLastIndex(rx, int64(m.index+m.matched.Length()))
	return m, nil
}

// toMatch reads an exec result; offset is added to its index. With lead, its first group is the
// character of context a shadow regexp consumed.
func (r *run) toMatch(v goja.Value, offset int, lead bool) *match {
	a, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	m := &match{index: offset + int(toLength(a.Get("index"))), matched: r.toString(a.Get("0")), groups: a.Get("groups")}
	first := int64(1)
	if lead {
		l := r.toString(a.Get("1")).Length()
		m.index += l
		m.matched = m.matched.Substring(l, m.matched.Length())
		first = 2
	}
	for i, n := first, toLength(a.Get("length")); i < n; i++ {
		m.captures = append(m.captures, a.Get(itoa(i)))
	}
	if m.groups == nil {
		m.groups = goja.Undefined()
	}
	return m
}

// shadow returns the regexp exec runs for rx from a non-zero lastIndex.
func (r *run) shadow(rx *goja.Object) *goja.Object {
	if sh, ok := r.shadowOf[rx]; ok {
		return sh
	}
	src := r.call(r.regexpSource, rx).String()
	flags := ""
	for _, c := range r.flags(rx) {
		if c != 'g' {
			flags += string(c)
		}
	}
	key := flags + "/" + src
	if sh, ok := r.shadows[key]; ok {
		r.shadowOf[rx] = sh
		return sh
	}
	pattern := `([\d\D])(?:` + src + ")"
	if msg := checkRegexp(pattern, flags); msg != "" {
		r.throwType("RegExp: cannot match /%s/ from lastIndex: %s", src, msg)
	}
	sh, err := r.vm.New(r.regexpCtor, r.vm.ToValue(pattern), r.vm.ToValue(flags))
	if err != nil {
		panic(err)
	}
	r.shadows[key] = sh
	r.shadowOf[rx] = sh
	return sh
}

func (r *run) setLastIndex(rx *goja.Object, v int64) {
	if err := rx.Set("lastIndex", v); err != nil {
		panic(err)
	}
}
