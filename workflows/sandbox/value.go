package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/dop251/goja"
)

const isoMillis = "2006-01-02T15:04:05.000Z"

var errTooDeep = fmt.Errorf("nests deeper than %d levels", maxValueDepth)

// export converts a script's value to plain Go values the way JSON.stringify would see it:
// strings, int64 (integral numbers up to 2^53 in magnitude), float64, bool, nil, []any and
// map[string]any of own enumerable properties. NaN and infinities become nil, Dates ISO
// strings, Errors their message; functions, symbols and undefined are left out of objects
// and become nil in arrays. Getters run. The result is charged to the run's budget.
func (r *run) export(v goja.Value) (any, error) {
	return r.exportValue(v, 0, map[*goja.Object]bool{})
}

func (r *run) exportValue(v goja.Value, depth int, seen map[*goja.Object]bool) (any, error) {
	if depth > maxValueDepth {
		return nil, errTooDeep
	}
	switch v := v.(type) {
	case nil, *goja.Symbol:
		return nil, nil
	case goja.String:
		r.chargeString(int64(v.Length()), "converting a value")
		return v.String(), nil
	case *goja.Object:
		return r.exportObject(v, depth, seen)
	}
	switch x := v.Export().(type) {
	case bool:
		return x, nil
	case int64:
		return number(float64(x)), nil
	case float64:
		return number(x), nil
	}
	return nil, nil // undefined, null
}

func (r *run) exportObject(obj *goja.Object, depth int, seen map[*goja.Object]bool) (any, error) {
	switch obj.ClassName() {
	case "Function":
		return nil, nil
	case "Error":
		return r.describe(obj), nil
	case "Date":
		t, ok := obj.Export().(time.Time)
		if !ok || t.Year() < 0 || t.Year() > 9999 {
			return nil, nil // an invalid date
		}
		return t.UTC().Format(isoMillis), nil
	case "String":
		return r.exportValue(r.toString(obj), depth, seen)
	case "Number":
		return number(obj.ToFloat()), nil
	case "Boolean":
		b, _ := obj.Export().(bool)
		return b, nil
	}
	if seen[obj] {
		return nil, errors.New("contains a cycle")
	}
	seen[obj] = true
	defer delete(seen, obj)

	if obj.ClassName() == "Array" {
		n := toLength(obj.Get("length"))
		r.chargeElements(n, "converting a value")
		out := make([]any, n)
		for i := range n {
			e, err := r.exportValue(obj.Get(itoa(i)), depth+1, seen)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	}
	keys := obj.Keys()
	r.chargeElements(int64(len(keys)), "converting a value")
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		e := obj.Get(k)
		if omitted(e) {
			continue
		}
		val, err := r.exportValue(e, depth+1, seen)
		if err != nil {
			return nil, err
		}
		out[k] = val
	}
	return out, nil
}

// omitted reports whether JSON would leave v out of an object.
func omitted(v goja.Value) bool {
	switch v := v.(type) {
	case nil, *goja.Symbol:
		return true
	case *goja.Object:
		return v.ClassName() == "Function"
	}
	return goja.IsUndefined(v)
}

// number returns f as an int64 when it is integral and exact, as nil when it is not finite.
func number(f float64) any {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil
	case f == math.Trunc(f) && math.Abs(f) <= 1<<53 && !(f == 0 && math.Signbit(f)):
		return int64(f)
	}
	return f
}

// importValue converts a Go value given to the script (a record, a Store's result) to a plain
// JavaScript value, frozen if asked. Maps with string keys become objects (keys sorted),
// slices arrays, time.Time ISO strings; a json.Marshaler (such as PocketBase's DateTime and
// JSONRaw) and any other type are converted through their JSON encoding.
func (r *run) importValue(v any, freeze bool, depth int) (goja.Value, error) {
	if depth > maxValueDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case nil:
		return goja.Null(), nil
	case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, float32, float64:
		return r.vm.ToValue(x), nil
	case uint64:
		return r.vm.ToValue(float64(x)), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, err
		}
		return r.vm.ToValue(f), nil
	case time.Time:
		return r.vm.ToValue(x.UTC().Format(isoMillis)), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		obj := r.vm.NewObject()
		for _, k := range keys {
			e, err := r.importValue(x[k], freeze, depth+1)
			if err != nil {
				return nil, err
			}
			r.must(obj.Set(k, e))
		}
		return r.frozen(obj, freeze), nil
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			val, err := r.importValue(e, freeze, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = val
		}
		return r.frozen(r.vm.NewArray(items...), freeze), nil
	case json.Marshaler:
		return r.importJSON(x, freeze, depth)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return goja.Null(), nil
		}
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return r.importValue(items, freeze, depth)
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			m := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				m[it.Key().String()] = it.Value().Interface()
			}
			return r.importValue(m, freeze, depth)
		}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return goja.Null(), nil
		}
	case reflect.String:
		return r.vm.ToValue(rv.String()), nil
	case reflect.Bool:
		return r.vm.ToValue(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.vm.ToValue(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return r.vm.ToValue(float64(rv.Uint())), nil
	case reflect.Float32, reflect.Float64:
		return r.vm.ToValue(rv.Float()), nil
	}
	return r.importJSON(v, freeze, depth)
}

// importJSON converts v through its JSON encoding.
func (r *run) importJSON(v any, freeze bool, depth int) (goja.Value, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var plain any
	if err := dec.Decode(&plain); err != nil {
		return nil, fmt.Errorf("convert %T: %w", v, err)
	}
	return r.importValue(plain, freeze, depth) // plain holds only types handled before json.Marshaler
}

// frozen freezes obj if asked.
func (r *run) frozen(obj *goja.Object, freeze bool) *goja.Object {
	if freeze {
		r.call(r.freeze, goja.Undefined(), obj)
	}
	return obj
}
