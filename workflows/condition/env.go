package condition

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relata/relata/schemas"
)

// kind is how an expression sees one column of a record.
type kind uint8

const (
	kindString kind = iota // string
	kindNumber             // float64
	kindBool               // bool
	kindTime               // time.Time
	kindList               // []string
	kindAny                // any: decoded JSON
)

var (
	stringType = reflect.TypeFor[string]()
	numberType = reflect.TypeFor[float64]()
	boolType   = reflect.TypeFor[bool]()
	timeType   = reflect.TypeFor[time.Time]()
	listType   = reflect.TypeFor[[]string]()
	anyType    = reflect.TypeFor[any]()
	userType   = reflect.TypeFor[userEnv]()
	budgetType = reflect.TypeFor[*budget]()
)

func (k kind) goType() reflect.Type {
	switch k {
	case kindString:
		return stringType
	case kindNumber:
		return numberType
	case kindBool:
		return boolType
	case kindTime:
		return timeType
	case kindList:
		return listType
	}
	return anyType
}

// kindOf returns how an expression sees field f.
func kindOf(f *schemas.Field) kind {
	switch f.Type {
	case schemas.TypeText, schemas.TypeLongText, schemas.TypeRichText, schemas.TypeEmail,
		schemas.TypePhone, schemas.TypeURL, schemas.TypeStage:
		return kindString
	case schemas.TypeSelect, schemas.TypeRelation, schemas.TypeOwner, schemas.TypeFile:
		if f.Multiple {
			return kindList
		}
		return kindString
	case schemas.TypeTags:
		return kindList
	case schemas.TypeNumber, schemas.TypeCurrency:
		return kindNumber
	case schemas.TypeBoolean:
		return kindBool
	case schemas.TypeDate, schemas.TypeDateTime:
		return kindTime
	}
	return kindAny // json, and field types this package does not know yet
}

// column is one value of a record as expressions see it: a field, the currency code of a
// currency field, or a system field.
type column struct {
	name string
	kind kind
	doc  string // for Variables
}

// userEnv is the acting user as expressions see it. It has no methods on purpose: expr can
// call exported methods of the values in its environment.
type userEnv struct {
	ID    string `expr:"id" json:"id"`
	Email string `expr:"email" json:"email"`
	Name  string `expr:"name" json:"name"`
	Role  string `expr:"role" json:"role"`
	Team  string `expr:"team" json:"team"`
}

// Indexes of the environment struct's fields, in the order shapeOf builds them.
const (
	envRecord = iota
	envOld
	envChanged
	envUser
	envNow
	envEvent
	envBudget
	envItem // only in shapes with an item (for_each)
)

// sideItem is the fill side of item's columns (beside envRecord and envOld).
const sideItem = 2

// Names visible to every expression. They cannot be redeclared with let.
const (
	nameRecord  = "record"
	nameOld     = "old"
	nameChanged = "changed"
	nameUser    = "user"
	nameNow     = "now"
	nameEvent   = "event"
	// nameItem is the current item of a for_each, in expressions compiled with an item object.
	nameItem = "item"
)

var reservedNames = []string{nameRecord, nameOld, nameChanged, nameUser, nameNow, nameEvent, nameItem}

// shape is the Go type of the environment for objects with the same columns: a struct built
// with reflect.StructOf whose record and old fields hold one typed Go field per column.
// Shapes never change once built (apart from their pool of values) and are shared by every
// program compiled for such objects.
type shape struct {
	columns []column
	index   map[string]int // column name → index in columns and in the record struct
	record  reflect.Type
	env     reflect.Type
	zero    any // an env value, for expr.Env (a pointer would make expr fetch fields by name)
	pool    sync.Pool
	// item is the shape of the for_each item's records, when expressions see an item.
	item *shape
}

// box is one reusable environment value of a shape.
type box struct {
	ptr     any              // *env, passed to the VM
	v       reflect.Value    // the env struct itself
	rec     [3]reflect.Value // record, old, item
	changed *[]string
	user    *userEnv
	now     *time.Time
	event   *string
	budget  **budget
	spent   budget // what the current evaluation has used
}

var shapes sync.Map // fingerprint → *shape

// shapeOf returns the shape of obj's records, building it on first use. Objects with the same
// columns (names, types, multiplicity) share one shape, so reloading definitions does not grow
// the cache.
func shapeOf(obj *schemas.Object) *shape { return scopeShape(obj, nil) }

// scopeShape is shapeOf(obj) with, when item is not nil, the variable item holding a record
// of item (the current item of a for_each).
func scopeShape(obj, item *schemas.Object) *shape {
	cols := columnsOf(obj)
	key := fingerprint(cols)
	var is *shape
	if item != nil {
		is = shapeOf(item)
		key += "\x01" + fingerprint(is.columns)
	}
	if s, ok := shapes.Load(key); ok {
		return s.(*shape)
	}
	s := newShape(cols, is)
	actual, _ := shapes.LoadOrStore(key, s)
	return actual.(*shape)
}

func fingerprint(cols []column) string {
	var fp strings.Builder
	for _, c := range cols {
		fp.WriteString(c.name)
		fp.WriteByte(0)
		fp.WriteByte(byte('0' + c.kind))
	}
	return fp.String()
}

// columnsOf lists obj's columns: id, the fields in order (a currency field followed by its
// currency code), then created, updated and last_touched. A name seen twice keeps its first column.
func columnsOf(obj *schemas.Object) []column {
	cols := []column{{name: schemas.FieldID, kind: kindString, doc: "Record id."}}
	seen := map[string]bool{schemas.FieldID: true}
	add := func(c column) {
		if seen[c.name] {
			return
		}
		seen[c.name] = true
		cols = append(cols, c)
	}
	for _, f := range obj.Fields {
		if f == nil {
			continue
		}
		add(column{name: f.Name, kind: kindOf(f), doc: fieldDoc(obj, f)})
		if f.Type == schemas.TypeCurrency {
			add(column{name: f.Name + schemas.CurrencySuffix, kind: kindString,
				doc: "ISO 4217 code of " + f.DisplayLabel() + " (\"EUR\")."})
		}
	}
	add(column{name: schemas.FieldCreated, kind: kindTime, doc: "When the record was created."})
	add(column{name: schemas.FieldUpdated, kind: kindTime, doc: "When the record was last saved."})
	add(column{name: schemas.FieldLastTouched, kind: kindTime, doc: "When an activity or an edit last touched the record."})
	return cols
}

// fieldDoc describes f for editor autocomplete: its label, type and choices.
func fieldDoc(obj *schemas.Object, f *schemas.Field) string {
	doc := f.DisplayLabel() + " (" + f.Type
	if f.Multiple {
		doc += ", multiple"
	}
	doc += ")"
	var choices []string
	switch f.Type {
	case schemas.TypeSelect:
		choices = f.OptionValues()
	case schemas.TypeStage:
		if p := obj.Pipeline(f.Pipeline); p != nil {
			choices = p.StageNames()
		}
	}
	if len(choices) > 0 {
		doc += ": " + strings.Join(choices, ", ")
	}
	if f.Help != "" {
		doc += ". " + f.Help
	}
	return doc
}

func newShape(cols []column, item *shape) *shape {
	s := &shape{columns: make([]column, len(cols)), index: make(map[string]int, len(cols)), item: item}
	fields := make([]reflect.StructField, len(cols))
	for i, c := range cols {
		// Only names and kinds make a shape: objects sharing it may differ in labels and options.
		s.columns[i] = column{name: c.name, kind: c.kind}
		s.index[c.name] = i
		q := strconv.Quote(c.name)
		fields[i] = reflect.StructField{
			Name: "F" + strconv.Itoa(i),
			Type: c.kind.goType(),
			Tag:  reflect.StructTag("expr:" + q + " json:" + q),
		}
	}
	s.record = reflect.StructOf(fields)
	env := []reflect.StructField{
		envRecord:  {Name: "Record", Type: s.record, Tag: `expr:"record" json:"record"`},
		envOld:     {Name: "Old", Type: s.record, Tag: `expr:"old" json:"old"`},
		envChanged: {Name: "Changed", Type: listType, Tag: `expr:"changed" json:"changed"`},
		envUser:    {Name: "User", Type: userType, Tag: `expr:"user" json:"user"`},
		envNow:     {Name: "Now", Type: timeType, Tag: `expr:"now" json:"now"`},
		envEvent:   {Name: "Event", Type: stringType, Tag: `expr:"event" json:"event"`},
		envBudget:  {Name: "Budget", Type: budgetType, Tag: `expr:"$budget" json:"-"`},
	}
	if item != nil {
		env = append(env, reflect.StructField{Name: "Item", Type: item.record, Tag: `expr:"item" json:"item"`})
	}
	s.env = reflect.StructOf(env)
	s.zero = reflect.New(s.env).Elem().Interface()
	s.pool.New = func() any { return s.newBox() }
	return s
}

func (s *shape) newBox() *box {
	p := reflect.New(s.env)
	v := p.Elem()
	b := &box{
		ptr:     p.Interface(),
		v:       v,
		rec:     [3]reflect.Value{v.Field(envRecord), v.Field(envOld)},
		changed: v.Field(envChanged).Addr().Interface().(*[]string),
		user:    v.Field(envUser).Addr().Interface().(*userEnv),
		now:     v.Field(envNow).Addr().Interface().(*time.Time),
		event:   v.Field(envEvent).Addr().Interface().(*string),
		budget:  v.Field(envBudget).Addr().Interface().(**budget),
	}
	if s.item != nil {
		b.rec[sideItem] = v.Field(envItem)
	}
	return b
}

// fill is one column a program reads: which side (record or old), which column.
type fill struct {
	side int // envRecord, envOld or sideItem
	col  int
	key  string
	kind kind
}

// load copies in into b, converting only the columns in fills.
func (b *box) load(fills []fill, in *Input) {
	maps := [3]map[string]any{in.Record, in.Old, in.Item}
	for _, f := range fills {
		m := maps[f.side]
		if m == nil {
			continue
		}
		raw, ok := m[f.key]
		if !ok || raw == nil {
			continue
		}
		fv := b.rec[f.side].Field(f.col)
		switch f.kind {
		case kindString:
			if s, ok := raw.(string); ok {
				fv.SetString(s)
			}
		case kindNumber:
			if n, ok := toNumber(raw); ok {
				fv.SetFloat(n)
			}
		case kindBool:
			if x, ok := raw.(bool); ok {
				fv.SetBool(x)
			}
		case kindTime:
			if t := toTime(raw); !t.IsZero() {
				fv.Set(reflect.ValueOf(t))
			}
		case kindList:
			if l := toList(raw); l != nil {
				fv.Set(reflect.ValueOf(l))
			}
		default:
			if x := toPlain(raw, 0); x != nil {
				fv.Set(reflect.ValueOf(&x).Elem())
			}
		}
	}
	*b.changed = in.Changed
	*b.user = userEnv(in.User)
	*b.now = in.Now.UTC()
	*b.event = in.Event
	b.spent = budget{facts: in.Facts}
	*b.budget = &b.spent
}

// reset clears b for reuse, so no value of one evaluation outlives it in the pool.
func (b *box) reset() { b.v.SetZero(); b.spent = budget{} }
