// Package sandbox runs small user-written JavaScript snippets, the "run script" workflow action,
// in goja under limits: a time limit, a memory budget, a cap on store calls, and an allow-list
// of standard built-ins. It imports nothing of Relata: what a script may do beyond computing goes
// through the [Store] interface the caller implements.
//
//	sb := sandbox.New(sandbox.Timeout(500 * time.Millisecond))
//	res, err := sb.Run(ctx, `
//		const deals = find('deals', 'company = {:id} && stage != "lost"', {id: record.company}, 200);
//		set('open_value', deals.reduce((sum, d) => sum + d.amount, 0));
//		log('open deals:', deals.length);
//	`, sandbox.Input{Record: values, Old: previous, Store: store})
//	if err != nil {
//		return err // a *SyntaxError, a *ScriptError, or errors.Is(err, sandbox.ErrTimeout)…
//	}
//	apply(res.Set)
//
// Sandbox.Compile checks a script when it is saved, and [Calls] lists the literal object names,
// fields and filters of its find, create and update calls for the caller to check; Run
// compiles once per source (a cache keyed by the source's SHA-256 keeps the last 256
// programs) and runs it in a fresh runtime.
//
// # What a script sees
//
// The script is the body of a strict-mode function: top-level return works and its declarations
// are its own. Its value, [Result.Value], is what it returns or, without a return, the value of
// its last expression statement (looking into a trailing block, if/else or try/catch); a returned
// promise counts by its settled value. Each run has its own runtime, so nothing one script
// defines is visible to the next. Besides the built-ins below, the script's globals are read-only:
//
//   - record: the triggering record's values ([Input.Record]), a frozen plain object (empty if nil).
//   - old: the values before the change ([Input.Old]), frozen, or null.
//   - now: the run's time ([Input.Now]) as an ISO string, such as "2025-01-02T03:04:05.000Z";
//     Date.now() and new Date() return the same instant for the whole run.
//   - set(field, value): records a field change, returned in [Result.Set]. The script cannot change record.
//   - find(object, filter, params?, limit? | {limit, offset, sort}): up to limit records (default
//     50, at most 200) of object matching a PocketBase filter with {:name} params, after skipping
//     offset of them (at most [MaxFindOffset]), in sort order, as an array of plain objects.
//   - create(object, values): creates a record and returns it, with its "id".
//   - update(object, id, values): changes a record and returns it.
//   - log(...args): appends a line to [Result.Logs]: strings as they are, other values as JSON.
//     At most 100 lines and 64 KiB; a marker ends longer logs.
//
// find, create and update call the [Input.Store]; without one they throw an Error saying so. Together they
// may be called [MaxCalls] times per run. A Store's error becomes an Error the script may catch.
// Values cross to Go as plain values (see [Result]) and from Go as plain objects, arrays, strings,
// numbers, booleans and null; a time.Time becomes an ISO string, other types their JSON form.
//
// # Allow-list
//
// The globals are ECMAScript's standard built-ins, as goja implements them: Object, Function,
// Array, String, Number, Boolean, Symbol, Date, RegExp, Math, JSON, Map, Set, Promise, the Error
// types, globalThis, NaN, Infinity, undefined, isNaN, isFinite, parseInt, parseFloat, encodeURI,
// encodeURIComponent, decodeURI, decodeURIComponent, escape and unescape. Nothing reaches
// outside the runtime: goja has no require, console, process, timers, network or file access, and
// the sandbox does not use PocketBase's jsvm plugin or its bindings. Refused or disabled:
//
//   - eval and every constructor that compiles text (Function, and the generator and async function
//     constructors reachable through prototypes) throw a TypeError. Code they compiled would bypass
//     the checks and guards that compiling a script adds. Function stays, so instanceof Function works.
//   - BigInt, also as literals (10n): its arithmetic has no memory bound.
//   - Proxy and Reflect, ArrayBuffer, DataView and the typed arrays, WeakMap, WeakSet, WeakRef,
//     FinalizationRegistry, JSON.rawJSON, RegExp.prototype.compile and the ES2025 Set methods
//     (union…): they would escape the accounting below, or are of no use to a short script.
//   - Regular expressions that need backtracking (lookahead, lookbehind, backreferences, repeat
//     counts over 1000) are syntax errors, in literals and in RegExp(). goja would run them on
//     regexp2, which no interrupt stops; all others run on Go's regexp, in linear time.
//   - A rest element in array destructuring is allowed in declarations and assignments only
//     (let [a, ...b] = x), not in parameters, loop heads or nested patterns.
//
// # Limits
//
// Bounded:
//
//   - Time: the script is interrupted after [Timeout] (default 1s; [Input].Timeout replaces it for
//     one run) or when Run's context is done.
//     The built-ins the sandbox wraps check the deadline too, so native loops calling them stop.
//   - Strings: no string longer than [MaxStringLength] (default 1 Mi characters) is built, by +,
//     += and template literals, or by the built-ins that can produce long strings (repeat,
//     padStart, padEnd, concat, replace, replaceAll, join, toLocaleString, JSON.stringify, String.raw,
//     the URI encoders…): they compute the length before building the string.
//   - Arrays and iteration: built-ins refuse array-likes longer than 1 Mi elements (goja loops over
//     the length natively, so new Array(1e9).fill(0) or a spread of a sparse array would run for
//     minutes); spread, destructuring with a rest element, Array.from, new Set and Map,
//     Promise.all and Object.fromEntries drain a script's iterator in a loop that checks the
//     deadline and counts (an iterator whose next is a built-in, such as Object, never ends).
//     apply and spread arguments stop at 65,536 arguments.
//   - Memory: [MaxAllocBytes] (default 16 MiB) is a budget of estimated bytes a run allocates,
//     counted cumulatively, garbage included: strings built (2 bytes a character), arrays produced
//     by built-ins, array and object literals, new, properties added with o[k] = v, functions and
//     classes created, calls of async functions, Map and Set entries, regular expression literals,
//     Object.create, bind, and JSON.parse (32 bytes a character of input). The estimates are
//     goja's measured sizes. In the loops we measured, which do nothing but allocate (objects,
//     arrays, closures, strings, Map entries, promises…), the heap peaked at 5 to 40 MB under the
//     default budget; the worst, a loop keeping generator objects it never resumes, at about 60 MB.
//   - Nesting: JavaScript calls nest at most 1024 deep (deeper recursion ends the run with a
//     [*ScriptError]); JSON.stringify and JSON.parse values, flat, joins of nested arrays and
//     chains of bound functions at most 32 to 200 levels (a RangeError the script may catch).
//   - Side effects: at most [MaxCalls] (default 100) find, create and update calls per run.
//   - Compilation: sources up to 64 KiB, bracket nesting up to 256, at most 1000 arrow functions
//     and a syntax tree at most 512 deep, because goja's parser and compiler take superlinear time
//     on some shapes (16,000 nested "{a:" take a minute to parse) and cannot be interrupted.
//
// Not bounded:
//
//   - Allocations the estimate does not see are bounded only by the timeout: objects made natively
//     by built-ins not listed above (iterator results, promises of then(), errors' stacks…) and
//     generator objects. A loop that produced only those would keep allocating until its timeout;
//     keep [Timeout] near its default.
//   - A built-in runs to completion before the deadline is seen. The caps above bound one call:
//     the longest we found take a few hundred milliseconds (JSON.parse of half a million
//     characters, splitting a string of a million). Sorting, replacing, joining and the other
//     loops the sandbox runs itself check the deadline as they go.
//   - Prototype chains: property lookups follow them recursively on the Go stack. A script cannot
//     build one long enough to matter within the budget, but raising [MaxAllocBytes] and [Timeout]
//     by orders of magnitude would let it.
//   - The Store: its implementation must honor the context it gets, whose deadline is the timeout.
//
// A run costs about half a millisecond and 280 KB, nearly all of it for the fresh runtime with
// its wrapped built-ins (BenchmarkRun; compiling, which the cache saves, costs a tenth of that:
// BenchmarkCompile). Runtimes are not pooled: reusing one safely would mean freezing every
// built-in, and a frozen Error.prototype makes common code such as err.name = 'ValidationError'
// throw.
package sandbox
