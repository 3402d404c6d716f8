package schemas

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pocketbase/pocketbase/core"
)

// Field type names, as written in definition files.
const (
	TypeText     = "text"
	TypeLongText = "longtext"
	TypeRichText = "richtext"
	TypeNumber   = "number"
	TypeCurrency = "currency"
	TypeBoolean  = "boolean"
	TypeDate     = "date"
	TypeDateTime = "datetime"
	TypeEmail    = "email"
	TypePhone    = "phone"
	TypeURL      = "url"
	TypeSelect   = "select"
	TypeTags     = "tags"
	TypeRelation = "relation"
	TypeOwner    = "owner"
	TypeStage    = "stage"
	TypeFile     = "file"
	TypeJSON     = "json"
)

// CurrencySuffix ends the name of the column that holds a currency field's ISO code:
// a currency field "amount" is stored as the number column "amount" and the text column
// "amount_currency".
const CurrencySuffix = "_currency"

// FieldType turns a [Field] of one type into PocketBase fields and checks values for it.
type FieldType interface {
	// Columns returns the PocketBase fields that store f. Relation targets are resolved with ids.
	Columns(o *Object, f *Field, ids CollectionIDs) ([]core.Field, error)
	// CheckValue returns why v (decoded JSON) is not a valid value of f, or nil.
	CheckValue(o *Object, f *Field, v any) error
}

// CollectionIDs resolves an object name to the id of its collection.
type CollectionIDs func(object string) (string, error)

var fieldTypes = map[string]FieldType{}

// registerFieldType adds a field type; it panics on a duplicate name (a programming error).
func registerFieldType(name string, t FieldType) {
	if _, dup := fieldTypes[name]; dup {
		panic("schemas: field type registered twice: " + name)
	}
	fieldTypes[name] = t
}

// FieldTypes lists the names of every field type, sorted.
func FieldTypes() []string { return slices.Sorted(maps.Keys(fieldTypes)) }

// LookupFieldType returns the named field type.
func LookupFieldType(name string) (FieldType, bool) {
	t, ok := fieldTypes[name]
	return t, ok
}

// common copies the settings every PocketBase field shares.
func common(f *Field) (name, help string, required bool) {
	return f.Name, f.Help, f.Required
}

func intBound(p *float64) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
