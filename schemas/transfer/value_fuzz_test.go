package transfer_test

import (
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/transfer"
)

// FuzzValue converts arbitrary cells for every field of the default objects, with and
// without decimal commas and in both date orders: it must never panic, and every value it
// accepts passes the object model's own check (relations are resolved elsewhere).
func FuzzValue(f *testing.F) {
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"1.234,56 €", "$1,250.50", "(1,234)", "45731", "05/03/2025", "03/14/2025 16:05", "2025-03-05T10:30:00+01:00",
		"sì", "x", "Sales qualified lead", "vip; nordics", "'=1+1", "acme.example", "ZOE@Example.com", "+39 02 1234", "1e400", "-0", "31/02/2025"} {
		f.Add(s, false, "")
		f.Add(s, true, transfer.MonthFirst)
	}
	f.Fuzz(func(t *testing.T, cell string, comma bool, order string) {
		h := transfer.Hints{DecimalComma: comma, DateOrder: order}
		for _, o := range objs {
			for _, fd := range o.Fields {
				if fd.Type == schemas.TypeRelation || fd.Type == schemas.TypeOwner {
					continue
				}
				v, _, err := transfer.Value(o, fd, cell, h)
				if err != nil {
					continue
				}
				typ, _ := schemas.LookupFieldType(fd.Type)
				switch x := v.(type) {
				case []string: // multi-selects and tags are checked as JSON lists
					l := make([]any, len(x))
					for i, s := range x {
						l[i] = s
					}
					v = l
				case float64, bool:
				case string:
					if fd.Type == schemas.TypeDate || fd.Type == schemas.TypeDateTime {
						continue // stored as PocketBase's date format, checked on save
					}
				default:
					continue // JSON
				}
				if err := typ.CheckValue(o, fd, v); err != nil {
					t.Fatalf("%s.%s: %q converted to %#v, which the model refuses: %v", o.Name, fd.Name, cell, v, err)
				}
			}
		}
	})
}
