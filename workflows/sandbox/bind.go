package sandbox

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

const (
	defaultFindLimit = 50
	maxFindLimit     = 200
	logTruncated     = "… (log truncated)"
)

// bind defines the script's API as read-only globals: record, old, now, set, find, create,
// update, log.
func (r *run) bind(g *goja.Object) {
	rec := r.in.Record
	if rec == nil {
		rec = map[string]any{}
	}
	record, err := r.importValue(rec, true, 0)
	if err != nil {
		panic(fmt.Errorf("sandbox: record: %w", err))
	}
	old := goja.Null()
	if r.in.Old != nil {
		if old, err = r.importValue(r.in.Old, true, 0); err != nil {
			panic(fmt.Errorf("sandbox: old: %w", err))
		}
	}
	stringify := r.callable(r.object(g, "JSON"), "stringify")
	for _, global := range []struct {
		name string
		v    goja.Value
	}{
		{"record", record},
		{"old", old},
		{"now", r.vm.ToValue(r.in.Now.UTC().Format(isoMillis))},
		{"set", r.named("set", 2, r.set)},
		{"find", r.named("find", 4, r.find)},
		{"create", r.named("create", 2, r.create)},
		{"update", r.named("update", 3, r.update)},
		{"log", r.named("log", 0, func(call goja.FunctionCall) goja.Value {
			r.log(stringify, call.Arguments)
			return goja.Undefined()
		})},
	} {
		r.must(g.DefineDataProperty(global.name, global.v, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE))
	}
}

// named returns f as a JavaScript function with a name and length: goja would name it after
// the Go function.
func (r *run) named(name string, length int, f native) *goja.Object {
	fn := r.vm.ToValue(f).(*goja.Object)
	r.must(fn.DefineDataProperty("name", r.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	r.must(fn.DefineDataProperty("length", r.vm.ToValue(length), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE))
	return fn
}

// set(field, value) records a change of field to apply after the run.
func (r *run) set(call goja.FunctionCall) goja.Value {
	r.enter("set")
	defer r.leave()
	field, ok := call.Argument(0).(goja.String)
	if !ok || field.Length() == 0 {
		r.throwType("set: the field name must be a non-empty string")
	}
	name := field.String()
	v, err := r.export(call.Argument(1))
	if err != nil {
		r.throwType("set: the value of %q %s", name, err)
	}
	r.charge(int64(len(name))*characterBytes, "set")
	if r.res.Set == nil {
		r.res.Set = map[string]any{}
	}
	r.res.Set[name] = v
	return goja.Undefined()
}

// find(object, filter, params?, limit? | {limit, offset, sort}) returns up to limit records
// (default 50, at most 200), after skipping offset of them, in sort order.
func (r *run) find(call goja.FunctionCall) goja.Value {
	r.enter("find")
	defer r.leave()
	q := Query{Object: r.objectName("find", call.Argument(0)), Limit: defaultFindLimit}
	if f := call.Argument(1); !isNullish(f) {
		s, ok := f.(goja.String)
		if !ok {
			r.throwType("find: the filter must be a string")
		}
		q.Filter = s.String()
	}
	q.Params = r.plainObject("find", "params", call.Argument(2))
	integer := func(what string, v goja.Value, lo, hi int) int {
		f := v.ToFloat()
		if !isNumber(v) || f != float64(int(f)) || f < float64(lo) || f > float64(hi) {
			r.throwRange("find: the %s must be an integer from %d to %d", what, lo, hi)
		}
		return int(f)
	}
	switch l := call.Argument(3); {
	case goja.IsUndefined(l):
	case isNumber(l):
		q.Limit = integer("limit", l, 1, maxFindLimit)
	default:
		opts := r.plainObject("find", "options", l)
		for k := range opts {
			if k != "limit" && k != "offset" && k != "sort" {
				r.throwType("find: unknown option %q (limit, offset, sort)", k)
			}
		}
		o := l.ToObject(r.vm)
		if v := o.Get("limit"); v != nil && !goja.IsUndefined(v) {
			q.Limit = integer("limit", v, 1, maxFindLimit)
		}
		if v := o.Get("offset"); v != nil && !goja.IsUndefined(v) {
			q.Offset = integer("offset", v, 0, MaxFindOffset)
		}
		if v := o.Get("sort"); v != nil && !goja.IsUndefined(v) {
			s, ok := v.(goja.String)
			if !ok {
				r.throwType("find: the sort must be a string such as \"-created,id\"")
			}
			q.Sort = s.String()
		}
	}
	store := r.store("find")
	var records []map[string]any
	err := r.callStore("find", func(ctx context.Context) (err error) {
		records, err = store.Find(ctx, q)
		return err
	})
	if err != nil {
		r.throwGo(prefixed("find "+q.Object, err))
	}
	items := make([]any, 0, min(len(records), q.Limit))
	for _, rec := range records[:min(len(records), q.Limit)] {
		items = append(items, map[string]any(rec))
	}
	return r.imported(items)
}

// update(object, id, values) changes fields of a record and returns it.
func (r *run) update(call goja.FunctionCall) goja.Value {
	r.enter("update")
	defer r.leave()
	object := r.objectName("update", call.Argument(0))
	id, ok := call.Argument(1).(goja.String)
	if !ok || id.Length() == 0 {
		r.throwType("update: the record id must be a non-empty string")
	}
	values := r.plainObject("update", "values", call.Argument(2))
	if values == nil {
		r.throwType("update: the values must be an object")
	}
	store := r.store("update")
	var rec map[string]any
	err := r.callStore("update", func(ctx context.Context) (err error) {
		rec, err = store.Update(ctx, object, id.String(), values)
		return err
	})
	if err != nil {
		r.throwGo(prefixed("update "+object, err))
	}
	return r.imported(map[string]any(rec))
}

// create(object, values) creates a record and returns it.
func (r *run) create(call goja.FunctionCall) goja.Value {
	r.enter("create")
	defer r.leave()
	object := r.objectName("create", call.Argument(0))
	values := r.plainObject("create", "values", call.Argument(1))
	if values == nil {
		r.throwType("create: the values must be an object")
	}
	store := r.store("create")
	var rec map[string]any
	err := r.callStore("create", func(ctx context.Context) (err error) {
		rec, err = store.Create(ctx, object, values)
		return err
	})
	if err != nil {
		r.throwGo(prefixed("create "+object, err))
	}
	return r.imported(map[string]any(rec))
}

func (r *run) store(op string) Store {
	if r.in.Store == nil {
		panic(r.newError(r.errorCtor, op+": no store is available to this script"))
	}
	return r.in.Store
}

// callStore counts the call against MaxCalls and makes it. A Store that panics stops the script.
func (r *run) callStore(op string, f func(context.Context) error) (err error) {
	if r.res.Calls >= r.cfg.maxCalls {
		r.fail(ErrCallLimit, "%s: the script already made the %d store calls allowed", op, r.cfg.maxCalls)
	}
	r.res.Calls++
	func() {
		defer func() {
			if x := recover(); x != nil {
				r.stop(fmt.Errorf("sandbox: the store panicked in %s: %v", op, x))
			}
		}()
		err = f(r.ctx)
	}()
	r.poll() // the time may have run out while the store worked
	return err
}

func (r *run) imported(v any) goja.Value {
	val, err := r.importValue(v, false, 0)
	if err != nil {
		r.throwType("the store's result %s", err)
	}
	return val
}

func (r *run) objectName(op string, v goja.Value) string {
	s, ok := v.(goja.String)
	if !ok || s.Length() == 0 {
		r.throwType("%s: the object must be a non-empty string", op)
	}
	return s.String()
}

// plainObject converts an optional object argument to a map; nil when absent.
func (r *run) plainObject(op, what string, v goja.Value) map[string]any {
	if isNullish(v) {
		return nil
	}
	obj, ok := v.(*goja.Object)
	if !ok || obj.ClassName() != "Object" {
		r.throwType("%s: the %s must be an object", op, what)
	}
	m, err := r.export(obj)
	if err != nil {
		r.throwType("%s: the %s %s", op, what, err)
	}
	return m.(map[string]any)
}

// log(...args) appends a line: strings as they are, other values as JSON or as they print.
// Past maxLogLines lines or maxLogBytes bytes, a marker ends the logs and later lines are dropped.
func (r *run) log(stringify goja.Callable, args []goja.Value) {
	r.enter("log")
	defer r.leave()
	if r.logsFull {
		return
	}
	if len(r.res.Logs) == maxLogLines {
		r.res.Logs = append(r.res.Logs, logTruncated)
		r.logsFull = true
		return
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = r.logString(stringify, a)
	}
	line := strings.Join(parts, " ")
	if room := maxLogBytes - r.logBytes; len(line) > room {
		for room > 0 && !utf8.RuneStart(line[room]) {
			room--
		}
		line = line[:room] + logTruncated
		r.logsFull = true
	}
	r.res.Logs = append(r.res.Logs, line)
	r.logBytes += len(line)
}

func (r *run) logString(stringify goja.Callable, v goja.Value) string {
	switch v := v.(type) {
	case goja.String:
		return v.String()
	case *goja.Object:
		switch v.ClassName() {
		case "Error", "Function", "Symbol":
			return r.describe(v)
		}
		s, err := stringify(goja.Undefined(), v)
		if err != nil {
			if _, ok := err.(*goja.Exception); !ok {
				panic(err) // an interruption
			}
			return r.describe(v)
		}
		if str, ok := s.(goja.String); ok {
			return str.String()
		}
	}
	return r.describe(v)
}

// prefixed says which call failed, unless the Store's error says so already.
func prefixed(call string, err error) error {
	if strings.HasPrefix(err.Error(), call+":") {
		return err
	}
	return fmt.Errorf("%s: %w", call, err)
}
