package sandbox

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// Runtime limits that are not options.
const (
	maxElements     = 1 << 20 // array length built-ins accept and produce
	maxArgs         = 1 << 16 // arguments of one call made with apply or spread
	maxCallStack    = 1024    // nested JavaScript calls
	maxNativeDepth  = 200     // nested calls of wrapped built-ins (join of nested arrays, bound functions…)
	maxValueDepth   = 100     // nesting of values converted to and from Go, parsed or stringified as JSON
	maxBoundDepth   = 32      // functions bound from bound functions
	maxLogLines     = 100
	maxLogBytes     = 64 << 10
	elementBytes    = 16  // what the accounting charges per array element or argument
	allocArrayBase  = 512 // and per array literal (goja's arrays are heavy); see also compile's alloc*
	characterBytes  = 2   // what it charges per string character (UTF-16 code unit)
	jsonParseFactor = 32  // what it charges per character of text given to JSON.parse
)

// run is one execution of a script in its own runtime.
type run struct {
	cfg    *config
	source string
	in     Input
	res    *Result
	vm     *goja.Runtime
	ctx    context.Context // done when the run must stop; given to the Store

	stopped  atomic.Bool // set when ctx is done, so built-ins can stop native loops
	err      error       // the limit that stopped the script; the first one wins
	alloc    int64       // bytes charged so far
	depth    int         // current nesting of wrapped built-ins
	logBytes int
	logsFull bool

	goErrors map[*goja.Object]error // exceptions that carry a Store's error
	bound    map[*goja.Object]int   // how many binds deep each bound function is
	joining  map[*goja.Object]bool  // arrays being joined, to join cycles as ""

	intrinsics
}

func newRun(cfg *config, source string, in Input, res *Result) *run {
	return &run{cfg: cfg, source: source, in: in, res: res, goErrors: map[*goja.Object]error{}, bound: map[*goja.Object]int{}}
}

// timeout is the time limit of this run.
func (r *run) timeout() time.Duration {
	if r.in.Timeout > 0 {
		return r.in.Timeout
	}
	return r.cfg.timeout
}

// execute runs prg: a fresh runtime, the script's globals and guards, the call, the conversion of
// its value. Everything that touches the runtime happens under one recover, with the timer armed.
func (r *run) execute(parent context.Context, prg *goja.Program) (err error) {
	ctx, cancel := context.WithTimeoutCause(parent, r.timeout(), ErrTimeout)
	defer cancel()
	r.ctx = ctx
	r.vm = goja.New()
	stop := context.AfterFunc(ctx, func() {
		r.stopped.Store(true)
		r.vm.Interrupt(context.Cause(ctx))
	})
	defer stop()
	defer func() {
		if x := recover(); x != nil {
			err = r.failure(x)
		}
	}()

	r.setup()
	outer, err := r.vm.RunProgram(prg)
	if err != nil {
		return r.failure(err)
	}
	outerFn, _ := goja.AssertFunction(outer)
	inner, err := outerFn(goja.Undefined(), r.guards()...)
	if err != nil {
		return r.failure(err)
	}
	innerFn, _ := goja.AssertFunction(inner)
	v, err := innerFn(goja.Undefined())
	if err != nil {
		return r.failure(err)
	}
	return r.finish(v)
}

var promiseType = reflect.TypeFor[*goja.Promise]()

// finish converts the script's value; a returned promise counts by its settled value.
func (r *run) finish(v goja.Value) error {
	if obj, ok := v.(*goja.Object); ok && obj.ExportType() == promiseType {
		p, _ := obj.Export().(*goja.Promise)
		switch {
		case p == nil:
		case p.State() == goja.PromiseStateFulfilled:
			v = p.Result()
		case p.State() == goja.PromiseStateRejected:
			return &ScriptError{Message: "uncaught (in promise) " + r.describe(p.Result())}
		default:
			return &ScriptError{Message: "the script returned a promise that never settled"}
		}
	}
	val, err := r.export(v)
	if err != nil {
		return &ScriptError{Message: "TypeError: the script's value " + err.Error()}
	}
	r.res.Value = val
	return nil
}

// failure turns what a goja call returned or panicked with into the error Run returns.
func (r *run) failure(x any) error {
	line, col := r.position(x)
	if r.err != nil {
		if le, ok := r.err.(*limitError); ok && le.line == 0 {
			le.line, le.column = line, col
		}
		return r.err
	}
	if r.stopped.Load() {
		cause := context.Cause(r.ctx)
		detail := "the run was canceled"
		if errors.Is(cause, ErrTimeout) {
			detail = fmt.Sprintf("the script ran longer than %v", r.timeout())
		}
		return &limitError{err: cause, detail: detail, line: line, column: col}
	}
	switch x := x.(type) {
	case *goja.StackOverflowError:
		return &ScriptError{Message: "RangeError: Maximum call stack size exceeded", Line: line, Column: col}
	case *goja.InterruptedError:
		if err, ok := x.Value().(error); ok {
			return &limitError{err: err, line: line, column: col}
		}
		return fmt.Errorf("sandbox: script interrupted: %v", x.Value())
	case *goja.Exception:
		se := &ScriptError{Message: r.describe(x.Value()), Line: line, Column: col}
		if obj, ok := x.Value().(*goja.Object); ok {
			se.err = r.goErrors[obj]
		}
		return se
	case *goja.Object: // thrown by the sandbox outside a call into the script
		return &ScriptError{Message: r.describe(x), err: r.goErrors[x]}
	case error:
		return fmt.Errorf("sandbox: internal error: %w", x)
	default:
		return fmt.Errorf("sandbox: internal error: %v", x)
	}
}

// position returns where in the script x was raised, or 0, 0.
func (r *run) position(x any) (line, col int) {
	st, ok := x.(interface{ Stack() []goja.StackFrame })
	if !ok {
		return 0, 0
	}
	for _, f := range st.Stack() {
		if p := f.Position(); f.SrcName() == scriptName && p.Line > 0 {
			return userPosition(r.source, p)
		}
	}
	return 0, 0
}

// describe returns a thrown value as a string, the way it would print. Printing may run the
// script's toString; if that fails, a placeholder is returned.
func (r *run) describe(v goja.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "(exception that cannot be printed)"
		}
	}()
	if v == nil {
		return "undefined"
	}
	return v.String()
}

// poll stops the script if its time is up or its context is done. The wrapped built-ins and
// guards call it, so that a native loop calling back into them stops too.
func (r *run) poll() {
	if r.stopped.Load() {
		cause := context.Cause(r.ctx)
		r.vm.Interrupt(cause)
		panic(r.vm.NewGoError(cause))
	}
}

// fail stops the script with a limit error no try/catch in it can catch: the runtime is
// interrupted, and the exception thrown to unwind native code turns into the interruption at the
// next instruction.
func (r *run) fail(err error, format string, args ...any) {
	r.stop(&limitError{err: err, detail: fmt.Sprintf(format, args...)})
}

// stop stops the script with err, which Run returns.
func (r *run) stop(err error) {
	if r.err == nil {
		r.err = err
	}
	r.vm.Interrupt(r.err)
	panic(r.vm.NewGoError(r.err))
}

// charge accounts for n bytes the script is about to allocate.
func (r *run) charge(n int64, what string) {
	r.alloc += n
	if r.alloc > r.cfg.maxAlloc {
		r.fail(ErrMemory, "%s: the run would allocate about %d bytes, more than the %d allowed", what, r.alloc, r.cfg.maxAlloc)
	}
}

// checkBudget stops the script if charging n more bytes would exceed the budget.
func (r *run) checkBudget(n int64, what string) {
	if r.alloc+n > r.cfg.maxAlloc {
		r.charge(n, what)
	}
}

// chargeString checks and accounts for a string of n UTF-16 code units.
func (r *run) chargeString(n int64, what string) {
	if n > int64(r.cfg.maxStringLength) {
		r.fail(ErrMemory, "%s would build a string of %d characters, more than the %d allowed", what, n, r.cfg.maxStringLength)
	}
	r.charge(n*characterBytes, what)
}

// checkElements refuses an array-like of n elements to a built-in.
func (r *run) checkElements(n int64, what string) {
	if n > maxElements {
		r.fail(ErrMemory, "%s: %d elements, more than the %d built-ins accept", what, n, maxElements)
	}
}

// chargeArray checks and accounts for a new array of n elements.
func (r *run) chargeArray(n int64, what string) {
	r.checkElements(n, what)
	r.charge(allocArrayBase+n*elementBytes, what)
}

// chargeElements checks and accounts for n more elements.
func (r *run) chargeElements(n int64, what string) {
	r.checkElements(n, what)
	r.charge(n*elementBytes, what)
}

// enter starts a call of a wrapped built-in; leave must follow.
func (r *run) enter(what string) {
	r.poll()
	if r.depth++; r.depth > maxNativeDepth {
		r.depth--
		r.throwRange("%s: built-ins nest deeper than %d levels", what, maxNativeDepth)
	}
}

func (r *run) leave() { r.depth-- }

func (r *run) throwType(format string, args ...any) {
	panic(r.vm.NewTypeError(fmt.Sprintf(format, args...)))
}

func (r *run) throwRange(format string, args ...any) {
	panic(r.newError(r.rangeError, fmt.Sprintf(format, args...)))
}

// throwGo throws a catchable Error with err's message; if it escapes the script, Run's
// ScriptError unwraps to err.
func (r *run) throwGo(err error) {
	obj := r.newError(r.errorCtor, err.Error())
	r.goErrors[obj] = err
	panic(obj)
}

func (r *run) newError(ctor *goja.Object, msg string) *goja.Object {
	obj, err := r.vm.New(ctor, r.vm.ToValue(msg))
	if err != nil {
		panic(err)
	}
	return obj
}

// call calls fn and rethrows its exception, for use inside functions the script calls.
func (r *run) call(fn goja.Callable, this goja.Value, args ...goja.Value) goja.Value {
	v, err := fn(this, args...)
	if err != nil {
		panic(err)
	}
	return v
}
