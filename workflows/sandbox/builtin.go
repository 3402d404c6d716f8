package sandbox

import (
	"math"
	"strconv"
	"time"

	"github.com/dop251/goja"
)

// allowedGlobals are the globals a script gets: ECMAScript's standard built-ins, less those
// that could not be bounded. Left out: BigInt (2n ** 10n ** 9n computes natively, with no
// memory bound), Proxy and Reflect (traps and array-likes the accounting cannot see through),
// ArrayBuffer, DataView, SharedArrayBuffer and the typed arrays (they allocate their length at
// once), WeakMap, WeakSet, WeakRef and FinalizationRegistry (of no use to a short script),
// and goja's GoError. eval and Function are present but throw (see disableCodeGeneration).
// There is no require, console, process, timer or I/O: goja has none, and the sandbox adds only
// its own API (see bind).
var allowedGlobals = []string{
	"Object", "Function", "Array", "String", "Number", "Boolean", "Symbol", "Date", "RegExp",
	"Math", "JSON", "Map", "Set", "Promise",
	"Error", "AggregateError", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError",
	"NaN", "Infinity", "undefined", "eval",
	"isNaN", "isFinite", "parseInt", "parseFloat",
	"decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "unescape",
}

// functionKinds evaluates to functions whose prototypes hold the generator and async function
// constructors, which compile source text like Function does.
var functionKinds = goja.MustCompile("", "[function*(){}, async function(){}]", true)

// intrinsics are originals the wrappers rely on, captured before the script can change anything.
type intrinsics struct {
	arrayProto, stringProto, regexpProto *goja.Object

	errorCtor, rangeError, syntaxError, arrayCtor, regexpCtor, setCtor, mapCtor *goja.Object

	arrayValues *goja.Object // Array.prototype[Symbol.iterator]

	freeze, hasOwn, getOwnPropertyDescriptor goja.Callable

	regexpSource, regexpGlobal, regexpSticky goja.Callable   // getters of RegExp.prototype
	regexpFlagGetters                        []goja.Callable // in the order of regexpFlags
	regexpExec                               goja.Callable
	execWrapper                              *goja.Object            // the sandbox's RegExp.prototype.exec
	shadows                                  map[string]*goja.Object // shadow regexps by flags and source; see execMatch
	shadowOf                                 map[*goja.Object]*goja.Object
	regexpFlagsOf                            map[*goja.Object]string
}

// setup turns goja's runtime into the sandbox's: limits, removed and disabled globals, wrapped
// built-ins, frozen iterators, and the script's API.
func (r *run) setup() {
	vm := r.vm
	vm.SetMaxCallStackSize(maxCallStack)
	now := r.in.Now
	vm.SetTimeSource(func() time.Time { return now })

	// A new global object with the allowed globals only; goja's is never touched, so what it
	// would create lazily for the others is not created.
	std := vm.GlobalObject()
	g := vm.NewObject()
	for _, name := range allowedGlobals {
		switch name {
		case "NaN", "Infinity", "undefined":
			r.must(g.DefineDataProperty(name, std.Get(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE))
		default:
			r.define(g, name, std.Get(name))
		}
	}
	r.define(g, "globalThis", g)
	vm.SetGlobalObject(g)
	r.capture(g)
	json := r.object(g, "JSON")
	r.must(json.Delete("rawJSON")) // raw JSON text would escape JSON.stringify's accounting
	r.must(json.Delete("isRawJSON"))
	r.must(r.regexpProto.Delete("compile")) // recompiles a regexp in place, past checkRegexp

	r.disableCodeGeneration(g)
	r.wrapStrings(g)
	r.wrapArrays(g)
	r.wrapJSON(json)
	r.wrapFunctions(g)
	r.wrapRegExp(g)
	r.wrapIterables(g)
	r.freezeIterators()
	r.bind(g)
}

func (r *run) capture(g *goja.Object) {
	object := r.object(g, "Object")
	r.freeze = r.callable(object, "freeze")
	r.hasOwn = r.callable(object, "hasOwn")
	r.getOwnPropertyDescriptor = r.callable(object, "getOwnPropertyDescriptor")
	r.arrayCtor = r.object(g, "Array")
	r.arrayProto = r.object(r.arrayCtor, "prototype")
	r.arrayValues = r.arrayProto.GetSymbol(goja.SymIterator).(*goja.Object)
	r.stringProto = r.object(r.object(g, "String"), "prototype")
	r.errorCtor = r.object(g, "Error")
	r.rangeError = r.object(g, "RangeError")
	r.syntaxError = r.object(g, "SyntaxError")
	r.regexpCtor = r.object(g, "RegExp")
	r.regexpProto = r.object(r.regexpCtor, "prototype")
	r.regexpSource = r.getter(r.regexpProto, "source")
	for _, f := range regexpFlags {
		r.regexpFlagGetters = append(r.regexpFlagGetters, r.getter(r.regexpProto, f.getter))
	}
	r.regexpGlobal, r.regexpSticky = r.regexpFlagGetters[0], r.regexpFlagGetters[5]
	r.regexpExec = r.callable(r.regexpProto, "exec")
	r.shadows = map[string]*goja.Object{}
	r.shadowOf = map[*goja.Object]*goja.Object{}
	r.regexpFlagsOf = map[*goja.Object]string{}
	r.setCtor = r.object(g, "Set")
	r.mapCtor = r.object(g, "Map")
}

// disableCodeGeneration replaces eval and every constructor that compiles source text, which
// would bypass the checks and guards compile adds. Function stays a function, so that
// instanceof Function works, but calling it throws.
func (r *run) disableCodeGeneration(g *goja.Object) {
	disabled := func(name string) *goja.Object {
		fn := r.vm.ToValue(func(goja.ConstructorCall) *goja.Object {
			r.throwType("the %s constructor is disabled in the sandbox", name)
			return nil
		}).(*goja.Object)
		r.must(fn.DefineDataProperty("name", r.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE))
		return fn
	}
	function := r.object(g, "Function")
	functionProto := r.object(function, "prototype")
	fn := disabled("Function")
	r.must(fn.DefineDataProperty("prototype", functionProto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE))
	r.define(g, "Function", fn)
	r.define(functionProto, "constructor", fn)
	r.define(g, "eval", r.named("eval", 1, func(goja.FunctionCall) goja.Value {
		r.throwType("eval is disabled in the sandbox")
		return nil
	}))

	kinds, err := r.vm.RunProgram(functionKinds)
	r.must(err)
	for _, name := range []string{"0", "1"} {
		proto := kinds.ToObject(r.vm).Get(name).ToObject(r.vm).Prototype()
		name := proto.Get("constructor").ToObject(r.vm).Get("name").String()
		r.must(proto.DefineDataProperty("constructor", disabled(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE))
	}
}

// freezeIterators makes the array and string iterators unchangeable. The spread guard hands
// arrays and strings to goja's native iteration, which must not meet a script's next().
func (r *run) freezeIterators() {
	arrayIterProto := r.call(mustCallable(r.arrayValues), r.vm.NewArray()).ToObject(r.vm).Prototype()
	stringIter := mustCallable(r.stringProto.GetSymbol(goja.SymIterator))
	stringIterProto := r.call(stringIter, r.vm.ToValue("")).ToObject(r.vm).Prototype()
	for _, obj := range []*goja.Object{arrayIterProto, stringIterProto} {
		r.must(obj.DefineDataProperty("next", obj.Get("next"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE))
	}
	for _, obj := range []*goja.Object{r.arrayProto, r.stringProto} {
		r.must(obj.DefineDataPropertySymbol(goja.SymIterator, obj.GetSymbol(goja.SymIterator), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE))
	}
}

type native = func(goja.FunctionCall) goja.Value

// wrap replaces obj[name] with f, which gets the original; the replacement keeps the original's
// name and length, polls the deadline and counts towards the nesting of built-ins.
func (r *run) wrap(obj *goja.Object, label, name string, f func(orig goja.Callable, call goja.FunctionCall) goja.Value) {
	origVal, ok := obj.Get(name).(*goja.Object)
	if !ok {
		return // not in this version of goja
	}
	r.define(obj, name, r.wrapper(origVal, label+"."+name, f))
}

// wrapSymbol is wrap for a symbol-keyed method.
func (r *run) wrapSymbol(obj *goja.Object, sym *goja.Symbol, label string, f func(orig goja.Callable, call goja.FunctionCall) goja.Value) {
	origVal, ok := obj.GetSymbol(sym).(*goja.Object)
	if !ok {
		return
	}
	r.must(obj.DefineDataPropertySymbol(sym, r.wrapper(origVal, label, f), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
}

func (r *run) wrapper(origVal *goja.Object, what string, f func(orig goja.Callable, call goja.FunctionCall) goja.Value) *goja.Object {
	orig := mustCallable(origVal)
	return r.function(origVal, func(call goja.FunctionCall) goja.Value {
		r.enter(what)
		defer r.leave()
		return f(orig, call)
	})
}

// function returns f as a JavaScript function with like's name and length.
func (r *run) function(like *goja.Object, f native) *goja.Object {
	fn := r.vm.ToValue(f).(*goja.Object)
	r.must(fn.DefineDataProperty("name", like.Get("name"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	r.must(fn.DefineDataProperty("length", like.Get("length"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	return fn
}

// constructor returns f as a JavaScript constructor standing in for orig: it shares orig's
// prototype object, orig.prototype.constructor points to it, and it has orig's static methods.
func (r *run) constructor(orig *goja.Object, f func(goja.ConstructorCall) *goja.Object) *goja.Object {
	fn := r.vm.ToValue(f).(*goja.Object)
	for _, name := range orig.GetOwnPropertyNames() {
		switch name {
		case "prototype":
			r.must(fn.DefineDataProperty(name, orig.Get(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE))
		case "name", "length":
			r.must(fn.DefineDataProperty(name, orig.Get(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE))
		default:
			r.define(fn, name, orig.Get(name))
		}
	}
	r.define(r.object(orig, "prototype"), "constructor", fn)
	return fn
}

// construct calls orig as a constructor for a wrapper made by constructor. When the wrapper was
// reached through super() from a subclass, the result gets the subclass's prototype.
func (r *run) construct(orig *goja.Object, call goja.ConstructorCall, args ...goja.Value) *goja.Object {
	obj, err := r.vm.New(orig, args...)
	if err != nil {
		panic(err)
	}
	if call.NewTarget != nil {
		if p, ok := call.NewTarget.Get("prototype").(*goja.Object); ok && p != obj.Prototype() {
			r.must(obj.SetPrototype(p))
		}
	}
	return obj
}

// define sets obj[name] = v with the attributes of a built-in method.
func (r *run) define(obj *goja.Object, name string, v goja.Value) {
	r.must(obj.DefineDataProperty(name, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE))
}

func (r *run) object(obj *goja.Object, name string) *goja.Object {
	return obj.Get(name).(*goja.Object)
}

func (r *run) callable(obj *goja.Object, name string) goja.Callable {
	return mustCallable(obj.Get(name))
}

// getter returns the getter of the accessor property obj[name].
func (r *run) getter(obj *goja.Object, name string) goja.Callable {
	desc := r.call(r.getOwnPropertyDescriptor, goja.Undefined(), obj, r.vm.ToValue(name)).ToObject(r.vm)
	return mustCallable(desc.Get("get"))
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func mustCallable(v goja.Value) goja.Callable {
	fn, ok := goja.AssertFunction(v)
	if !ok {
		panic("sandbox: built-in is not a function")
	}
	return fn
}

// must panics on an error of a setup step; execute recovers it.
func (r *run) must(err error) {
	if err != nil {
		panic(err)
	}
}

// Conversions of the abstract operations the wrappers need. They may run the script's code
// (valueOf, toString), once per value, as the built-ins would.

func (r *run) toString(v goja.Value) goja.String {
	if s, ok := v.(goja.String); ok {
		return s
	}
	p := v.ToString() // numbers convert lazily and return themselves
	if s, ok := p.(goja.String); ok {
		return s
	}
	return r.vm.ToValue(p.String()).(goja.String)
}

// toInteger is ToIntegerOrInfinity.
func toInteger(v goja.Value) float64 {
	if v == nil { // a missing property
		return 0
	}
	f := v.ToFloat()
	if math.IsNaN(f) {
		return 0
	}
	return math.Trunc(f)
}

// toLength is ToLength.
func toLength(v goja.Value) int64 {
	f := toInteger(v)
	switch {
	case f <= 0:
		return 0
	case f >= 1<<53-1:
		return 1<<53 - 1
	}
	return int64(f)
}

// lengthOf returns the length of an array-like. For anything but an array the length must be a
// data property: a getter could report one length to the check and another to the built-in.
func (r *run) lengthOf(obj *goja.Object) int64 {
	if obj.ClassName() != "Array" {
		name := r.vm.ToValue("length")
		for o, i := obj, 0; o != nil; o, i = o.Prototype(), i+1 {
			if i == maxValueDepth {
				r.throwType("array-likes with a prototype chain deeper than %d are not supported in the sandbox", maxValueDepth)
			}
			if !r.call(r.hasOwn, goja.Undefined(), o, name).ToBoolean() {
				continue
			}
			desc := r.call(r.getOwnPropertyDescriptor, goja.Undefined(), o, name)
			if r.call(r.hasOwn, goja.Undefined(), desc, r.vm.ToValue("get")).ToBoolean() {
				r.throwType("array-likes with an accessor length are not supported in the sandbox")
			}
			break
		}
	}
	return toLength(obj.Get("length"))
}
