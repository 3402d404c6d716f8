package schemas

import (
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// systemColumns are the columns Relata adds to every object; they are not object fields.
var systemColumns = []string{FieldID, FieldCreated, FieldUpdated, FieldLastTouched}

// fieldFromColumn describes a PocketBase field that an admin added in the dashboard as a
// Relata [Field]. collectionName resolves a relation's collection id to its name. It returns
// nil for columns that have no Relata equivalent (passwords, geo points, autodates).
func fieldFromColumn(col core.Field, collectionName func(id string) string) *Field {
	f := &Field{Name: col.GetName()}
	switch x := col.(type) {
	case *core.TextField:
		// A text field added in the dashboard stays text (PocketBase's default limit is
		// 5,000 characters); only a limit above that makes it longtext.
		f.Type, f.Help, f.Required = TypeText, x.Help, x.Required
		limit := textColumnMax(x)
		switch {
		case x.Pattern == PhonePattern:
			f.Type = TypePhone
		case limit > pbTextDefaultMax:
			f.Type = TypeLongText
		}
		if f.Type != TypePhone {
			f.Pattern = x.Pattern
			if f.Type == TypeText && limit != textMax || f.Type == TypeLongText && limit != longTextMax {
				f.Max = floatPtr(float64(limit))
			}
		}
		if x.Min > 0 {
			f.Min = floatPtr(float64(x.Min))
		}
	case *core.EditorField:
		f.Type, f.Help, f.Required = TypeRichText, x.Help, x.Required
	case *core.NumberField:
		f.Type, f.Help, f.Required, f.Min, f.Max = TypeNumber, x.Help, x.Required, x.Min, x.Max
	case *core.BoolField:
		f.Type, f.Help, f.Required = TypeBoolean, x.Help, x.Required
	case *core.EmailField:
		f.Type, f.Help, f.Required = TypeEmail, x.Help, x.Required
	case *core.URLField:
		f.Type, f.Help, f.Required = TypeURL, x.Help, x.Required
	case *core.DateField:
		f.Type, f.Help, f.Required = TypeDateTime, x.Help, x.Required
	case *core.SelectField:
		f.Type, f.Help, f.Required = TypeSelect, x.Help, x.Required
		f.Multiple = x.MaxSelect > 1
		for _, v := range x.Values {
			f.Options = append(f.Options, Option{Value: v})
		}
	case *core.RelationField:
		target := collectionName(x.CollectionId)
		if target == "" {
			return nil
		}
		f.Help, f.Required = x.Help, x.Required
		if target == UsersCollection && x.MaxSelect <= 1 {
			f.Type = TypeOwner
		} else {
			f.Type, f.Target, f.Multiple = TypeRelation, target, x.MaxSelect > 1
		}
	case *core.FileField:
		f.Type, f.Help, f.Required = TypeFile, x.Help, x.Required
		f.Multiple = x.MaxSelect > 1
		f.MimeTypes = slices.Clone(x.MimeTypes)
		if x.MaxSize != defaultFileMaxSize {
			f.MaxSize = x.MaxSize
		}
	case *core.JSONField:
		f.Type, f.Help, f.Required = TypeJSON, x.Help, x.Required
	default:
		return nil
	}
	f.Label = humanize(f.Name)
	return f
}

// refreshField brings a file-defined field up to date with settings an admin changed in the
// dashboard (help, required, select options, limits), keeping what the file says otherwise.
func refreshField(f *Field, col core.Field) {
	switch x := col.(type) {
	case *core.SelectField:
		if f.Type != TypeSelect {
			break
		}
		var opts []Option
		for _, v := range x.Values {
			label := ""
			for _, o := range f.Options {
				if o.Value == v {
					label = o.Label
				}
			}
			opts = append(opts, Option{Value: v, Label: label})
		}
		f.Options = opts
		f.Required, f.Help = x.Required, x.Help
	case *core.TextField:
		f.Required, f.Help = x.Required, x.Help
		if f.Type == TypeText || f.Type == TypeLongText {
			f.Pattern = x.Pattern
		}
	case *core.NumberField:
		f.Required, f.Help, f.Min, f.Max = x.Required, x.Help, x.Min, x.Max
	case *core.EmailField:
		f.Required, f.Help = x.Required, x.Help
	case *core.URLField:
		f.Required, f.Help = x.Required, x.Help
	case *core.DateField:
		f.Required, f.Help = x.Required, x.Help
	case *core.RelationField:
		f.Required, f.Help = x.Required, x.Help
	case *core.BoolField:
		f.Required, f.Help = x.Required, x.Help
	case *core.EditorField:
		f.Required, f.Help = x.Required, x.Help
	case *core.JSONField:
		f.Required, f.Help = x.Required, x.Help
	case *core.FileField:
		f.Required, f.Help = x.Required, x.Help
	}
}

// pbTextDefaultMax is the length limit PocketBase applies to a text field whose max is 0.
const pbTextDefaultMax = 5000

// textColumnMax is the length limit a PocketBase text field enforces.
func textColumnMax(x *core.TextField) int {
	if x.Max == 0 {
		return pbTextDefaultMax
	}
	return x.Max
}

func floatPtr(v float64) *float64 { return &v }

// humanize turns a snake_case name into a label: "expected_close" -> "Expected close".
func humanize(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
