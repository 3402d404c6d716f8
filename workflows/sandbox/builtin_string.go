package sandbox

import (
	"math"
	"strconv"

	"github.com/dop251/goja"
)

// wrapStrings bounds the string built-ins whose result can be much larger than their input. Each
// converts its arguments once, checks the size of the result against MaxStringLength and the
// budget, and only then calls the original with the converted values, so that a toString or
// valueOf cannot answer the check and the built-in differently.
func (r *run) wrapStrings(g *goja.Object) {
	const label = "String.prototype"
	p := r.stringProto
	r.wrap(p, label, "repeat", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		if isNullish(call.This) {
			return r.call(orig, call.This)
		}
		s := r.toString(call.This)
		count := toInteger(call.Argument(0))
		if count > 0 && !math.IsInf(count, 1) && s.Length() > 0 {
			r.chargeString(product(int64(s.Length()), count), "String.prototype.repeat")
		}
		return r.call(orig, s, r.vm.ToValue(count))
	})
	pad := func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		if isNullish(call.This) {
			return r.call(orig, call.This)
		}
		s := r.toString(call.This)
		n := toLength(call.Argument(0))
		fill := call.Argument(1)
		if !goja.IsUndefined(fill) {
			fill = r.toString(fill)
		}
		if n > int64(s.Length()) && (goja.IsUndefined(fill) || fill.(goja.String).Length() > 0) {
			r.chargeString(n, "String.prototype.padStart/padEnd")
		}
		return r.call(orig, s, r.vm.ToValue(n), fill)
	}
	r.wrap(p, label, "padStart", pad)
	r.wrap(p, label, "padEnd", pad)
	r.wrap(p, label, "concat", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		if isNullish(call.This) {
			return r.call(orig, call.This)
		}
		s := r.toString(call.This)
		total := int64(s.Length())
		args := make([]goja.Value, len(call.Arguments))
		for i, a := range call.Arguments {
			str := r.toString(a)
			args[i] = str
			total += int64(str.Length())
		}
		r.chargeString(total, "String.prototype.concat")
		return r.call(orig, s, args...)
	})
	r.wrap(p, label, "replace", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		return r.stringReplace(orig, call, false)
	})
	r.wrap(p, label, "replaceAll", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		return r.stringReplace(orig, call, true)
	})
	// match, matchAll and search compile a string argument as a pattern: it must pass checkRegexp.
	for _, m := range []struct {
		name   string
		sym    *goja.Symbol
		global bool
	}{{"match", goja.SymMatch, false}, {"matchAll", goja.SymMatchAll, true}, {"search", goja.SymSearch, false}} {
		what := label + "." + m.name
		r.wrap(p, label, m.name, func(orig goja.Callable, call goja.FunctionCall) goja.Value {
			if isNullish(call.This) {
				return r.call(orig, call.This)
			}
			v := r.stringMatch(call.This, call.Argument(0), m.sym, m.global)
			r.chargeValue(v, what)
			return v
		})
	}
	for _, name := range []string{"split", "normalize", "toLowerCase", "toUpperCase", "toLocaleLowerCase", "toLocaleUpperCase"} {
		r.wrap(p, label, name, r.chargeResult(label+"."+name))
	}

	str := r.object(g, "String")
	for _, name := range []string{"fromCharCode", "fromCodePoint"} {
		r.wrap(str, "String", name, r.chargeResult("String."+name))
	}
	r.wrap(str, "String", "raw", func(_ goja.Callable, call goja.FunctionCall) goja.Value {
		return r.stringRaw(call)
	})

	r.wrap(g, "globalThis", "encodeURI", r.encode(uriKeep(";/?:@&=+$,#"), false))
	r.wrap(g, "globalThis", "encodeURIComponent", r.encode(uriKeep(""), false))
	r.wrap(g, "globalThis", "escape", r.encode(func(c uint16) bool {
		return isAlphanumeric(c) || c < 0x80 && containsByte("@*_+-./", byte(c))
	}, true))
}

// chargeResult returns a wrapper that charges the string or array the built-in returns. It suits
// built-ins whose result is at most a small multiple of input that is itself bounded.
func (r *run) chargeResult(what string) func(goja.Callable, goja.FunctionCall) goja.Value {
	return func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		v := r.call(orig, call.This, call.Arguments...)
		r.chargeValue(v, what)
		return v
	}
}

// chargeValue charges a string or an array a built-in produced.
func (r *run) chargeValue(v goja.Value, what string) {
	switch v := v.(type) {
	case goja.String:
		r.chargeString(int64(v.Length()), what)
	case *goja.Object:
		if v.ClassName() == "Array" {
			r.chargeArray(toLength(v.Get("length")), what)
		}
	}
}

// stringMatch is String.prototype.match, matchAll and search: a value with the method sym is
// asked to match; anything else becomes a RegExp through the sandbox's constructor, so that a
// string pattern is checked like any other.
func (r *run) stringMatch(this, pattern goja.Value, sym *goja.Symbol, global bool) goja.Value {
	if !isNullish(pattern) {
		if global && r.isRegExp(pattern) {
			flags := pattern.ToObject(r.vm).Get("flags")
			if isNullish(flags) || !containsByte(r.toString(flags).String(), 'g') {
				r.throwType("matchAll must be called with a global RegExp")
			}
		}
		if method, ok := goja.AssertFunction(pattern.ToObject(r.vm).GetSymbol(sym)); ok {
			return r.call(method, pattern, this)
		}
	}
	s := r.toString(this)
	var src goja.Value = r.vm.ToValue("")
	if !goja.IsUndefined(pattern) {
		src = r.toString(pattern)
	}
	flags := ""
	if global {
		flags = "g"
	}
	if msg := checkRegexp(src.String(), flags); msg != "" {
		panic(r.newError(r.syntaxError, "Invalid regular expression: /"+src.String()+"/: "+msg))
	}
	rx, err := r.vm.New(r.regexpCtor, src, r.vm.ToValue(flags))
	if err != nil {
		panic(err)
	}
	method, ok := goja.AssertFunction(rx.GetSymbol(sym))
	if !ok {
		r.throwType("RegExp method is not a function")
	}
	return r.call(method, rx, s)
}

// stringReplace is String.prototype.replace and replaceAll: a search value with a
// Symbol.replace method (a RegExp) is handed to it, as the specification says; a string search
// runs the original with a replacer function that counts the result's length as it grows.
func (r *run) stringReplace(orig goja.Callable, call goja.FunctionCall, all bool) goja.Value {
	if isNullish(call.This) {
		return r.call(orig, call.This)
	}
	search, replacement := call.Argument(0), call.Argument(1)
	if !isNullish(search) {
		if all && r.isRegExp(search) {
			flags := search.ToObject(r.vm).Get("flags")
			if isNullish(flags) || !containsByte(r.toString(flags).String(), 'g') {
				r.throwType("replaceAll must be called with a global RegExp")
			}
		}
		if method, ok := goja.AssertFunction(search.ToObject(r.vm).GetSymbol(goja.SymReplace)); ok {
			return r.call(method, search, call.This, replacement)
		}
	}
	s := r.toString(call.This)
	searchStr := r.toString(search)
	_, replacer, tmpl := r.replacer(s, replacement, "String.prototype.replace")
	if !all && tmpl != nil && !containsChar(tmpl, '$') {
		// One match, no substitutions: the result is at most s and the replacement.
		r.chargeString(int64(s.Length()+tmpl.Length()), "String.prototype.replace")
		return r.call(orig, s, searchStr, tmpl)
	}
	out := r.call(orig, s, searchStr, replacer)
	r.chargeValue(out, "String.prototype.replace")
	return out
}

// replacer returns, for String.prototype.replace and RegExp's Symbol.replace, a function that
// computes a match's replacement from the arguments a replacer function receives (matched,
// captures…, position, string[, groups]): it calls the script's function or expands the $
// patterns of the template, and stops the script once the result would be longer than
// MaxStringLength. fn is the same as a JavaScript function; tmpl is the template, if any.
func (r *run) replacer(s goja.String, replacement goja.Value, what string) (replace func([]goja.Value) goja.String, fn goja.Value, tmpl goja.String) {
	userFn, isFn := goja.AssertFunction(replacement)
	if !isFn {
		tmpl = r.toString(replacement)
	}
	total := int64(s.Length())
	replace = func(args []goja.Value) goja.String {
		r.poll()
		matched := r.toString(args[0])
		var out goja.String
		if isFn {
			out = r.toString(r.call(userFn, goja.Undefined(), args...))
		} else {
			out = r.substitute(tmpl, matched, args)
		}
		total += int64(out.Length() - matched.Length())
		if total > int64(r.cfg.maxStringLength) {
			r.chargeString(total, what)
		}
		return out
	}
	fn = r.vm.ToValue(func(call goja.FunctionCall) goja.Value { return replace(call.Arguments) })
	return replace, fn, tmpl
}

// substitute is GetSubstitution: it expands $$, $&, $`, $', $n, $nn and $<name> in tmpl for a
// match, given the arguments a replacer function receives (matched, captures…, position, string[, groups]).
func (r *run) substitute(tmpl, matched goja.String, args []goja.Value) goja.String {
	n := len(args)
	var groups goja.Value = goja.Undefined()
	if obj, ok := args[n-1].(*goja.Object); ok && n >= 4 {
		groups, n = obj, n-1
	}
	str := r.toString(args[n-1])
	position := int(toInteger(args[n-2]))
	captures := args[1 : n-2]
	position = max(0, min(position, str.Length()))
	tail := min(position+matched.Length(), str.Length())

	var b goja.StringBuilder
	l := tmpl.Length()
	for i := 0; i < l; i++ {
		c := tmpl.CharAt(i)
		if c != '$' || i+1 == l {
			b.WriteSubstring(tmpl, i, i+1)
			continue
		}
		switch next := tmpl.CharAt(i + 1); {
		case next == '$':
			b.WriteSubstring(tmpl, i, i+1)
			i++
		case next == '&':
			b.WriteString(matched)
			i++
		case next == '`':
			b.WriteSubstring(str, 0, position)
			i++
		case next == '\'':
			b.WriteSubstring(str, tail, str.Length())
			i++
		case next >= '0' && next <= '9':
			digits := 1
			index := int(next - '0')
			if i+2 < l {
				if d := tmpl.CharAt(i + 2); d >= '0' && d <= '9' && index*10+int(d-'0') >= 1 && index*10+int(d-'0') <= len(captures) {
					index, digits = index*10+int(d-'0'), 2
				}
			}
			if index < 1 || index > len(captures) {
				b.WriteSubstring(tmpl, i, i+1)
				continue
			}
			if c := captures[index-1]; !goja.IsUndefined(c) {
				b.WriteString(r.toString(c))
			}
			i += digits
		case next == '<':
			end := -1
			for j := i + 2; j < l; j++ {
				if tmpl.CharAt(j) == '>' {
					end = j
					break
				}
			}
			if goja.IsUndefined(groups) || end < 0 {
				b.WriteSubstring(tmpl, i, i+1)
				continue
			}
			name := tmpl.Substring(i+2, end).String()
			if v := groups.ToObject(r.vm).Get(name); v != nil && !goja.IsUndefined(v) {
				b.WriteString(r.toString(v))
			}
			i = end
		default:
			b.WriteSubstring(tmpl, i, i+1)
		}
	}
	return b.String()
}

// stringRaw is String.raw, built here so that it checks the length of the raw array and of the
// result as it goes.
func (r *run) stringRaw(call goja.FunctionCall) goja.Value {
	raw := call.Argument(0).ToObject(r.vm).Get("raw").ToObject(r.vm)
	n := r.lengthOf(raw)
	r.checkElements(n, "String.raw")
	var b goja.StringBuilder
	var total int64
	for i := int64(0); i < n; i++ {
		if i%1024 == 0 {
			r.poll()
		}
		seg := r.toString(raw.Get(strconv.FormatInt(i, 10)))
		total += int64(seg.Length())
		r.checkString(total, "String.raw")
		b.WriteString(seg)
		if i+1 == n {
			break
		}
		if int(i+1) < len(call.Arguments) {
			sub := r.toString(call.Arguments[i+1])
			total += int64(sub.Length())
			r.checkString(total, "String.raw")
			b.WriteString(sub)
		}
	}
	r.chargeString(total, "String.raw")
	return b.String()
}

// encode returns a wrapper for encodeURI, encodeURIComponent and escape that computes the
// length of the result before the original builds it.
func (r *run) encode(keep func(uint16) bool, escape bool) func(goja.Callable, goja.FunctionCall) goja.Value {
	return func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		s := r.toString(call.Argument(0))
		var n int64
		l := s.Length()
		for i := 0; i < l; i++ {
			c := s.CharAt(i)
			switch {
			case keep(c):
				n++
			case escape && c < 0x100:
				n += 3 // %XX
			case escape:
				n += 6 // %uXXXX
			case c < 0x80:
				n += 3
			case c < 0x800:
				n += 6
			case c >= 0xD800 && c < 0xDC00 && i+1 < l:
				n += 12 // a surrogate pair: four UTF-8 bytes
				i++
			default:
				n += 9
			}
		}
		r.chargeString(n, "URI encoding")
		return r.call(orig, call.This, s)
	}
}

// uriKeep returns the code units encodeURI(Component) leaves as they are: the unreserved ones
// and the given reserved ones.
func uriKeep(reserved string) func(uint16) bool {
	return func(c uint16) bool {
		return isAlphanumeric(c) || c < 0x80 && (containsByte("-_.!~*'()", byte(c)) || containsByte(reserved, byte(c)))
	}
}

func isAlphanumeric(c uint16) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func containsChar(s goja.String, c uint16) bool {
	for i := range s.Length() {
		if s.CharAt(i) == c {
			return true
		}
	}
	return false
}

// checkString stops the script if a string of n code units is longer than MaxStringLength.
func (r *run) checkString(n int64, what string) {
	if n > int64(r.cfg.maxStringLength) {
		r.chargeString(n, what)
	}
}

// product returns n*f, saturating at math.MaxInt64.
func product(n int64, f float64) int64 {
	p := float64(n) * f
	if p >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(p)
}

func isNullish(v goja.Value) bool {
	return v == nil || goja.IsUndefined(v) || goja.IsNull(v)
}

// isRegExp is IsRegExp: Symbol.match decides, else being a RegExp.
func (r *run) isRegExp(v goja.Value) bool {
	obj, ok := v.(*goja.Object)
	if !ok {
		return false
	}
	if m := obj.GetSymbol(goja.SymMatch); m != nil && !goja.IsUndefined(m) {
		return m.ToBoolean()
	}
	return obj.ClassName() == "RegExp"
}
