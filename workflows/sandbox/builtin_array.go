package sandbox

import (
	"strconv"

	"github.com/dop251/goja"
)

// How the wrapped Array.prototype methods are bounded, beyond refusing receivers longer than
// maxElements (goja's array methods loop over the length natively, so a sparse array of length
// 2^32-1 would keep them busy for minutes).
const (
	checkOnly    = iota // the result is no larger than the receiver, or not an array
	chargeLength        // a new array as long as the receiver
	chargeResult        // a new array, charged once built
	chargeArgs          // the receiver grows by the arguments
	compare             // sort: the comparator polls the deadline
)

var arrayMethods = map[string]int{
	"at": checkOnly, "copyWithin": checkOnly, "every": checkOnly,
	"fill": chargeLength, "filter": chargeResult, "find": checkOnly, "findIndex": checkOnly,
	"findLast": checkOnly, "findLastIndex": checkOnly, "forEach": checkOnly, "includes": checkOnly,
	"indexOf": checkOnly, "lastIndexOf": checkOnly, "map": chargeLength,
	"pop": checkOnly, "push": chargeArgs, "reduce": checkOnly, "reduceRight": checkOnly,
	"reverse": checkOnly, "shift": checkOnly, "slice": chargeResult, "some": checkOnly,
	"sort": compare, "splice": chargeResult, "toReversed": chargeLength, "toSorted": compare,
	"toSpliced": chargeResult, "unshift": chargeArgs, "with": chargeLength,
}

// wrapArrays bounds the Array constructor and methods. join, toLocaleString, concat and flat are
// implemented here, because their result size depends on what the elements' toString or
// Symbol.isConcatSpreadable say, which a script could make differ between a check and the call.
func (r *run) wrapArrays(g *goja.Object) {
	const label = "Array.prototype"
	p := r.arrayProto
	for name, kind := range arrayMethods {
		what := label + "." + name
		r.wrap(p, label, name, func(orig goja.Callable, call goja.FunctionCall) goja.Value {
			if isNullish(call.This) {
				return r.call(orig, call.This)
			}
			n := r.lengthOf(call.This.ToObject(r.vm))
			r.checkElements(n, what)
			args := call.Arguments
			switch kind {
			case chargeLength:
				r.chargeArray(n, what)
			case chargeArgs:
				r.chargeElements(n+int64(len(args)), what)
			case compare:
				args = append([]goja.Value{r.comparator(call.Argument(0))}, args[min(1, len(args)):]...)
				if name == "toSorted" {
					r.chargeArray(n, what)
				}
			}
			v := r.call(orig, call.This, args...)
			if kind == chargeResult {
				r.chargeValue(v, what)
			}
			return v
		})
	}
	r.wrap(p, label, "join", func(_ goja.Callable, call goja.FunctionCall) goja.Value {
		return r.join(call.This, call.Argument(0), false)
	})
	r.wrap(p, label, "toLocaleString", func(_ goja.Callable, call goja.FunctionCall) goja.Value {
		return r.join(call.This, goja.Undefined(), true)
	})
	r.wrap(p, label, "concat", func(_ goja.Callable, call goja.FunctionCall) goja.Value {
		return r.concat(call)
	})
	r.wrap(p, label, "flat", func(_ goja.Callable, call goja.FunctionCall) goja.Value {
		return r.flat(call)
	})
	r.wrap(p, label, "flatMap", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		if isNullish(call.This) {
			return r.call(orig, call.This)
		}
		n := r.lengthOf(call.This.ToObject(r.vm))
		r.checkElements(n, "Array.prototype.flatMap")
		fn, ok := goja.AssertFunction(call.Argument(0))
		if !ok {
			return r.call(orig, call.This, call.Arguments...)
		}
		var total int64
		counted := r.vm.ToValue(func(c goja.FunctionCall) goja.Value {
			r.poll()
			v := r.call(fn, c.This, c.Arguments...)
			if obj, ok := v.(*goja.Object); ok && obj.ClassName() == "Array" {
				total += toLength(obj.Get("length"))
			} else {
				total++
			}
			r.checkElements(total, "Array.prototype.flatMap")
			r.checkBudget(total*elementBytes, "Array.prototype.flatMap") // charged once the result is built
			return v
		})
		v := r.call(orig, call.This, counted, call.Argument(1))
		r.chargeValue(v, "Array.prototype.flatMap")
		return v
	})

	arr := r.arrayCtor
	r.wrap(arr, "Array", "from", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		items := call.Argument(0)
		if isNullish(items) {
			return r.call(orig, call.This, items)
		}
		return r.call(orig, call.This, r.arrayFrom(items), call.Argument(1), call.Argument(2))
	})
	r.wrap(arr, "Array", "of", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		r.chargeArray(int64(len(call.Arguments)), "Array.of")
		return r.call(orig, call.This, call.Arguments...)
	})
	ctor := r.constructor(arr, func(call goja.ConstructorCall) *goja.Object {
		r.enter("Array")
		defer r.leave()
		if len(call.Arguments) == 1 {
			if n := call.Arguments[0]; isNumber(n) && toInteger(n) == n.ToFloat() {
				r.checkElements(int64(n.ToFloat()), "Array")
			}
			r.charge(allocArrayBase, "Array")
		} else {
			r.chargeArray(int64(len(call.Arguments)), "Array")
		}
		return r.construct(arr, call, call.Arguments...)
	})
	r.define(g, "Array", ctor)
}

// comparator returns a sort comparator that polls the deadline before each comparison: with
// the script's comparefn, or with the default order (undefined last is handled by sort itself).
func (r *run) comparator(comparefn goja.Value) goja.Value {
	if !goja.IsUndefined(comparefn) {
		fn, ok := goja.AssertFunction(comparefn)
		if !ok {
			return comparefn // sort throws the TypeError
		}
		return r.vm.ToValue(func(call goja.FunctionCall) goja.Value {
			r.poll()
			return r.call(fn, goja.Undefined(), call.Argument(0), call.Argument(1))
		})
	}
	return r.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		r.poll()
		return r.vm.ToValue(r.toString(call.Argument(0)).CompareTo(r.toString(call.Argument(1))))
	})
}

// join is Array.prototype.join (and, with locale, toLocaleString), checking the length of the
// result as it grows. Like other engines, it joins an array that contains itself as "".
func (r *run) join(this, separator goja.Value, locale bool) goja.Value {
	obj := this.ToObject(r.vm)
	n := r.lengthOf(obj)
	r.checkElements(n, "Array.prototype.join")
	sep := goja.String(nil)
	if goja.IsUndefined(separator) {
		sep = r.vm.ToValue(",").(goja.String)
	} else {
		sep = r.toString(separator)
	}
	if r.joining[obj] {
		return r.vm.ToValue("")
	}
	if r.joining == nil {
		r.joining = map[*goja.Object]bool{}
	}
	r.joining[obj] = true
	defer delete(r.joining, obj)

	var b goja.StringBuilder
	var total int64
	for i := range n {
		if i%1024 == 0 {
			r.poll()
		}
		if i > 0 {
			total += int64(sep.Length())
			r.checkString(total, "Array.prototype.join")
			b.WriteString(sep)
		}
		e := obj.Get(strconv.FormatInt(i, 10))
		if isNullish(e) {
			continue
		}
		var s goja.String
		if locale {
			fn, ok := goja.AssertFunction(e.ToObject(r.vm).Get("toLocaleString"))
			if !ok {
				r.throwType("toLocaleString is not a function")
			}
			s = r.toString(r.call(fn, e))
		} else {
			s = r.toString(e)
		}
		total += int64(s.Length())
		r.checkString(total, "Array.prototype.join")
		b.WriteString(s)
	}
	r.chargeString(total, "Array.prototype.join")
	return b.String()
}

// concat is Array.prototype.concat. Each value's Symbol.isConcatSpreadable and length are read
// once. The result is a plain array, also for subclasses.
func (r *run) concat(call goja.FunctionCall) goja.Value {
	items := append([]goja.Value{call.This.ToObject(r.vm)}, call.Arguments...)
	var out []goja.Value
	holes := false
	for _, e := range items {
		obj, ok := e.(*goja.Object)
		if !ok || !r.spreadable(obj) {
			out = append(out, e)
			r.checkElements(int64(len(out)), "Array.prototype.concat")
			continue
		}
		n := r.lengthOf(obj)
		r.checkElements(int64(len(out))+n, "Array.prototype.concat")
		for k := range n {
			if k%1024 == 0 {
				r.poll()
			}
			v := obj.Get(strconv.FormatInt(k, 10))
			holes = holes || v == nil
			out = append(out, v)
		}
	}
	r.chargeArray(int64(len(out)), "Array.prototype.concat")
	return r.newArray(out, holes)
}

// spreadable is IsConcatSpreadable.
func (r *run) spreadable(obj *goja.Object) bool {
	if v := obj.GetSymbol(goja.SymIsConcatSpreadable); v != nil && !goja.IsUndefined(v) {
		return v.ToBoolean()
	}
	return obj.ClassName() == "Array"
}

// flat is Array.prototype.flat, bounded in depth and size.
func (r *run) flat(call goja.FunctionCall) goja.Value {
	obj := call.This.ToObject(r.vm)
	n := r.lengthOf(obj)
	r.checkElements(n, "Array.prototype.flat")
	depth := 1.0
	if d := call.Argument(0); !goja.IsUndefined(d) {
		depth = max(0, toInteger(d))
	}
	var out []goja.Value
	r.flatten(&out, obj, n, depth, 0)
	r.chargeArray(int64(len(out)), "Array.prototype.flat")
	return r.newArray(out, false)
}

func (r *run) flatten(out *[]goja.Value, src *goja.Object, n int64, depth float64, level int) {
	if level > maxValueDepth {
		r.throwRange("Array.prototype.flat: arrays nest deeper than %d levels", maxValueDepth)
	}
	for i := range n {
		if i%1024 == 0 {
			r.poll()
		}
		e := src.Get(strconv.FormatInt(i, 10))
		if e == nil {
			continue // a hole
		}
		if obj, ok := e.(*goja.Object); ok && depth > 0 && obj.ClassName() == "Array" {
			m := r.lengthOf(obj)
			r.checkElements(int64(len(*out))+m, "Array.prototype.flat")
			r.flatten(out, obj, m, depth-1, level+1)
			continue
		}
		*out = append(*out, e)
		r.checkElements(int64(len(*out)), "Array.prototype.flat")
	}
}

// arrayFrom returns what Array.from may safely iterate for items: a string or an array with the
// standard iterator as it is, anything else drained or copied into a new array, so that the
// original never calls a script's iterator natively.
func (r *run) arrayFrom(items goja.Value) goja.Value {
	if s, ok := items.(goja.String); ok {
		r.chargeArray(int64(s.Length()), "Array.from")
		return s
	}
	obj := items.ToObject(r.vm)
	if r.plainArray(obj) {
		r.chargeArray(toLength(obj.Get("length")), "Array.from")
		return obj
	}
	if method := obj.GetSymbol(goja.SymIterator); !isNullish(method) {
		return r.newArray(r.drain(obj, method, maxElements, "Array.from"), false)
	}
	n := r.lengthOf(obj)
	r.chargeArray(n, "Array.from")
	out := make([]goja.Value, n)
	for i := range n {
		if i%1024 == 0 {
			r.poll()
		}
		if out[i] = obj.Get(strconv.FormatInt(i, 10)); out[i] == nil {
			out[i] = goja.Undefined()
		}
	}
	return r.newArray(out, false)
}

// newArray returns an array of values; with holes, nil values are left as holes.
func (r *run) newArray(values []goja.Value, holes bool) *goja.Object {
	if !holes {
		items := make([]any, len(values))
		for i, v := range values {
			items[i] = v
		}
		return r.vm.NewArray(items...)
	}
	arr := r.vm.NewArray()
	for i, v := range values {
		if v != nil {
			r.must(arr.Set(strconv.Itoa(i), v))
		}
	}
	r.must(arr.Set("length", len(values)))
	return arr
}

func isNumber(v goja.Value) bool {
	if _, ok := v.(*goja.Object); ok {
		return false
	}
	switch v.Export().(type) {
	case int64, float64:
		return true
	}
	return false
}
