package sandbox

import (
	"github.com/dop251/goja"
)

// goja drains iterables in native loops (spread, destructuring with a rest element, new Set,
// Promise.all…) that no interrupt reaches, and a script can make such a loop endless with an
// iterator whose next is a built-in (next: Object never says done). So wherever goja would
// drain a script's iterable natively, the sandbox drains it first, in a loop that polls the
// deadline and counts the values, and hands goja a plain array instead.

// guards returns the functions the compiled script receives for the guards compile inserts.
func (r *run) guards() []goja.Value {
	return []goja.Value{
		r.vm.ToValue(func(call goja.FunctionCall) goja.Value { // guardString
			r.poll()
			v := call.Argument(0)
			if s, ok := v.(goja.String); ok {
				r.chargeString(int64(s.Length()), "string concatenation")
			}
			return v
		}),
		r.vm.ToValue(func(call goja.FunctionCall) goja.Value { // guardSpread
			return r.iterable(call.Argument(0), maxElements, "spread")
		}),
		r.vm.ToValue(func(call goja.FunctionCall) goja.Value { // guardArgs
			return r.iterable(call.Argument(0), maxArgs, "spread arguments")
		}),
		r.vm.ToValue(func(call goja.FunctionCall) goja.Value { // guardAlloc
			r.poll()
			v := call.Argument(0)
			switch size := call.Argument(1).ToInteger(); size {
			case allocArray:
				r.charge(allocArrayBase+elementBytes*toLength(v.(*goja.Object).Get("length")), "creating an array")
			case allocSpread:
				r.charge(allocObject+allocProperty*int64(len(v.(*goja.Object).Keys())), "creating an object")
			default:
				r.charge(size, "creating an object")
			}
			return v
		}),
	}
}

// iterable returns what goja may iterate natively in place of v: a string or a plain array as
// they are, anything else drained into a new array. At most limit values are accepted.
func (r *run) iterable(v goja.Value, limit int64, what string) goja.Value {
	r.poll()
	if s, ok := v.(goja.String); ok {
		if n := int64(s.Length()); n > limit {
			r.tooMany(n, limit, what)
		}
		r.chargeElements(int64(s.Length()), what)
		return s
	}
	if isNullish(v) {
		r.throwType("%s: %s is not iterable", what, r.describe(v))
	}
	obj := v.ToObject(r.vm)
	if r.plainArray(obj) {
		n := toLength(obj.Get("length"))
		if n > limit {
			r.tooMany(n, limit, what)
		}
		r.chargeElements(n, what)
		return obj
	}
	method := obj.GetSymbol(goja.SymIterator)
	if isNullish(method) {
		r.throwType("%s: %s is not iterable", what, r.describe(v))
	}
	r.charge(allocArrayBase, what)
	return r.newArray(r.drain(obj, method, limit, what), false)
}

// plainArray reports whether goja may iterate obj natively: an array with the standard
// prototype, whose frozen Symbol.iterator yields its elements, and no iterator of its own.
func (r *run) plainArray(obj *goja.Object) bool {
	return obj.ClassName() == "Array" && obj.Prototype() == r.arrayProto &&
		!r.call(r.hasOwn, goja.Undefined(), obj, goja.SymIterator).ToBoolean()
}

// drain runs the iteration protocol on obj with method (its Symbol.iterator), polling the
// deadline at every step, and returns at most limit values.
func (r *run) drain(obj goja.Value, method goja.Value, limit int64, what string) []goja.Value {
	fn, ok := goja.AssertFunction(method)
	if !ok {
		r.throwType("%s: Symbol.iterator is not a function", what)
	}
	iter, ok := r.call(fn, obj).(*goja.Object)
	if !ok {
		r.throwType("%s: the iterator is not an object", what)
	}
	next, ok := goja.AssertFunction(iter.Get("next"))
	if !ok {
		r.throwType("%s: the iterator's next is not a function", what)
	}
	var out []goja.Value
	for {
		r.poll()
		res, ok := r.call(next, iter).(*goja.Object)
		if !ok {
			r.throwType("%s: the iterator result is not an object", what)
		}
		if done := res.Get("done"); done != nil && done.ToBoolean() {
			return out
		}
		if int64(len(out)) >= limit {
			r.tooMany(int64(len(out))+1, limit, what)
		}
		r.charge(elementBytes, what)
		v := res.Get("value")
		if v == nil {
			v = goja.Undefined()
		}
		out = append(out, v)
	}
}

// tooMany stops a script that iterates more values than limit: beyond maxArgs a catchable
// RangeError, as engines throw for too many arguments; beyond maxElements ErrMemory.
func (r *run) tooMany(n, limit int64, what string) {
	if limit == maxArgs {
		r.throwRange("%s: more than %d arguments", what, maxArgs)
	}
	r.checkElements(n, what)
}

// wrapIterables bounds the built-ins that drain iterables or build arrays from objects.
func (r *run) wrapIterables(g *goja.Object) {
	for _, c := range []struct {
		name string
		orig *goja.Object
	}{{"Set", r.setCtor}, {"Map", r.mapCtor}, {"AggregateError", r.object(g, "AggregateError")}} {
		orig, what := c.orig, "new "+c.name
		r.define(g, c.name, r.constructor(orig, func(call goja.ConstructorCall) *goja.Object {
			r.enter(what)
			defer r.leave()
			args := call.Arguments
			if len(args) > 0 && (c.name == "AggregateError" || !isNullish(args[0])) {
				args = append([]goja.Value{r.iterable(args[0], maxElements, what)}, args[1:]...)
			}
			return r.construct(orig, call, args...)
		}))
	}
	// The set methods of ES2025 iterate a "set-like" argument's keys() natively.
	setProto := r.object(r.setCtor, "prototype")
	for _, c := range []struct {
		proto      *goja.Object
		label, add string
	}{{setProto, "Set.prototype", "add"}, {r.object(r.mapCtor, "prototype"), "Map.prototype", "set"}} {
		what := c.label + "." + c.add
		r.wrap(c.proto, c.label, c.add, func(orig goja.Callable, call goja.FunctionCall) goja.Value {
			r.charge(allocKey, what)
			return r.call(orig, call.This, call.Arguments...)
		})
	}
	for _, name := range []string{"union", "intersection", "difference", "symmetricDifference", "isSubsetOf", "isSupersetOf", "isDisjointFrom"} {
		r.must(setProto.Delete(name))
	}

	promise := r.object(g, "Promise")
	for _, name := range []string{"all", "allSettled", "any", "race"} {
		what := "Promise." + name
		r.wrap(promise, "Promise", name, func(orig goja.Callable, call goja.FunctionCall) goja.Value {
			return r.call(orig, call.This, r.iterable(call.Argument(0), maxElements, what))
		})
	}

	object := r.object(g, "Object")
	r.wrap(object, "Object", "fromEntries", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		return r.call(orig, call.This, r.iterable(call.Argument(0), maxElements, "Object.fromEntries"))
	})
	r.wrap(object, "Object", "create", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		r.charge(allocObject, "Object.create")
		return r.call(orig, call.This, call.Arguments...)
	})
	r.wrap(object, "Object", "entries", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		v := r.call(orig, call.This, call.Arguments...)
		n := toLength(v.(*goja.Object).Get("length"))
		r.chargeArray(n, "Object.entries")
		r.charge(n*(allocArrayBase+2*elementBytes), "Object.entries") // the [key, value] pairs
		return v
	})
	for _, name := range []string{"keys", "values", "getOwnPropertyNames", "getOwnPropertySymbols"} {
		r.wrap(object, "Object", name, r.chargeResult("Object."+name))
	}
}

// wrapFunctions bounds Function.prototype.apply, which copies an array-like's length of
// arguments natively, and bind, whose bound functions call each other natively and whose names
// grow with each bind.
func (r *run) wrapFunctions(g *goja.Object) {
	const label = "Function.prototype"
	p := r.object(r.object(g, "Function"), "prototype")
	r.wrap(p, label, "apply", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		if args := call.Argument(1); !isNullish(args) {
			if obj, ok := args.(*goja.Object); ok {
				n := r.lengthOf(obj)
				if n > maxArgs {
					r.tooMany(n, maxArgs, "Function.prototype.apply")
				}
				r.charge(n*elementBytes, "Function.prototype.apply")
			}
		}
		return r.call(orig, call.This, call.Arguments...)
	})
	r.wrap(p, label, "bind", func(orig goja.Callable, call goja.FunctionCall) goja.Value {
		target, _ := call.This.(*goja.Object)
		depth := r.bound[target] + 1
		if depth > maxBoundDepth {
			r.throwRange("Function.prototype.bind: functions bound more than %d deep", maxBoundDepth)
		}
		v := r.call(orig, call.This, call.Arguments...)
		fn := v.(*goja.Object)
		r.bound[fn] = depth
		r.charge(allocClosure+int64(len(call.Arguments))*elementBytes, "Function.prototype.bind")
		if name, ok := fn.Get("name").(goja.String); ok {
			r.chargeString(int64(name.Length()), "Function.prototype.bind")
		}
		return v
	})
}
