package sandbox

import (
	"github.com/dop251/goja"
)

// wrapJSON bounds JSON.stringify, whose output can be far larger than anything the script
// built (an array of a million references to one long string), and JSON.parse, which nests
// natively as deep as its text does.
func (r *run) wrapJSON(json *goja.Object) {
	r.wrap(json, "JSON", "stringify", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		return r.stringify(orig, call)
	})
	r.wrap(json, "JSON", "parse", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		text := r.toString(call.Argument(0))
		r.checkJSONDepth(text)
		r.charge(int64(text.Length())*jsonParseFactor, "JSON.parse")
		return r.call(orig, call.This, text, call.Argument(1))
	})
}

// stringify runs the original JSON.stringify with a replacer of its own, which the original
// calls for every value before writing it: the replacer applies the script's replacer (function
// or property list), then adds an upper bound of what the value will write to a running total,
// and stops the script before the total passes MaxStringLength. It also bounds the nesting.
// A property list is applied as a filter, so properties keep the object's order, not the list's.
func (r *run) stringify(orig goja.Callable, call goja.FunctionCall) goja.Value {
	value, replacer, space := call.Argument(0), call.Argument(1), call.Argument(2)
	var userFn goja.Callable
	var allow map[string]bool
	if obj, ok := replacer.(*goja.Object); ok {
		if fn, ok := goja.AssertFunction(obj); ok {
			userFn = fn
		} else if obj.ClassName() == "Array" {
			allow = r.propertyList(obj)
		}
	}
	gap := r.gapLength(space)

	const what = "JSON.stringify"
	var total int64
	depths := map[*goja.Object]int{}
	root := true
	tally := r.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		r.poll()
		holder, _ := c.This.(*goja.Object)
		key, v := c.Argument(0), c.Argument(1)
		inArray := holder != nil && holder.ClassName() == "Array"
		if allow != nil && !root && !inArray && !allow[key.String()] {
			return goja.Undefined()
		}
		if userFn != nil {
			v = r.call(userFn, c.This, key, v)
		}
		depth := depths[holder] + 1
		if root {
			depth, root = 0, false
		}
		if depth > maxValueDepth {
			r.throwRange("%s: values nest deeper than %d levels", what, maxValueDepth)
		}
		size := r.jsonSize(v, depths, depth)
		if size == 0 && !inArray {
			return v // omitted
		}
		if size == 0 {
			size = 4 // null
		}
		if !inArray && depth > 0 {
			size += jsonQuotedLength(r.toString(key)) + 2 // "key": (with a space when indenting)
		}
		total += size + 1 + 1 + int64(depth*gap) // separator, newline and indentation
		if total > int64(r.cfg.maxStringLength) {
			r.chargeString(total, what)
		}
		return v
	})
	out := r.call(orig, call.This, value, tally, space)
	r.chargeValue(out, what)
	return out
}

// jsonSize returns an upper bound of the characters JSON.stringify writes for v itself (for
// an object or array, its brackets), 0 if it writes nothing. It records the depth of objects,
// which become the holders of the next calls.
func (r *run) jsonSize(v goja.Value, depths map[*goja.Object]int, depth int) int64 {
	switch v := v.(type) {
	case goja.String:
		return jsonQuotedLength(v)
	case *goja.Object:
		switch v.ClassName() {
		case "Function":
			return 0
		case "String":
			return jsonQuotedLength(r.toString(v))
		case "Number", "Boolean":
			return 24
		}
		depths[v] = depth
		return 2 + 1 + int64(depth)*16 // brackets, and indentation of the closing one
	case *goja.Symbol:
		return 0
	}
	if v == nil || goja.IsUndefined(v) {
		return 0
	}
	return 24 // numbers, booleans, null
}

// jsonQuotedLength returns the length of s quoted as JSON.
func jsonQuotedLength(s goja.String) int64 {
	n := int64(2)
	for i := range s.Length() {
		switch c := s.CharAt(i); {
		case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			n += 2
		case c < 0x20 || c >= 0xD800 && c < 0xE000:
			n += 6 // \u00XX, or a lone surrogate
		default:
			n++
		}
	}
	return n
}

// propertyList returns the keys of a JSON.stringify property list.
func (r *run) propertyList(list *goja.Object) map[string]bool {
	n := r.lengthOf(list)
	r.checkElements(n, "JSON.stringify")
	keys := map[string]bool{}
	for i := range n {
		v := list.Get(itoa(i))
		switch v := v.(type) {
		case goja.String:
			keys[v.String()] = true
		case *goja.Object:
			if c := v.ClassName(); c == "String" || c == "Number" {
				keys[r.toString(v).String()] = true
			}
		default:
			if isNumber(v) {
				keys[r.toString(v).String()] = true
			}
		}
	}
	return keys
}

// gapLength returns the length of the indentation step JSON.stringify derives from space.
func (r *run) gapLength(space goja.Value) int {
	if obj, ok := space.(*goja.Object); ok {
		switch obj.ClassName() {
		case "Number":
			space = obj.ToNumber()
		case "String":
			space = r.toString(obj)
		}
	}
	if s, ok := space.(goja.String); ok {
		return min(10, s.Length())
	}
	if isNumber(space) {
		return int(max(0, min(10, toInteger(space))))
	}
	return 0
}

// checkJSONDepth throws a RangeError if the arrays and objects in text nest deeper than
// maxValueDepth, which goja's parser would follow natively.
func (r *run) checkJSONDepth(text goja.String) {
	depth := 0
	inString := false
	for i := 0; i < text.Length(); i++ {
		switch c := text.CharAt(i); {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			if depth++; depth > maxValueDepth {
				r.throwRange("JSON.parse: values nest deeper than %d levels", maxValueDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
}
