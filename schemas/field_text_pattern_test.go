package schemas_test

import (
	"testing"

	"github.com/relata/relata/schemas"
)

// TestTextPatternCompiledOnce: a value of a field with a pattern (every phone) is checked
// without compiling the pattern again; the check still refuses what the pattern refuses, and
// a custom pattern of a text field is used.
func TestTextPatternCompiledOnce(t *testing.T) {
	phone, _ := schemas.LookupFieldType(schemas.TypePhone)
	text, _ := schemas.LookupFieldType(schemas.TypeText)
	pf := &schemas.Field{Name: "phone", Type: schemas.TypePhone}
	code := &schemas.Field{Name: "code", Type: schemas.TypeText, Pattern: `^[A-Z]{3}-\d+$`}
	for _, c := range []struct {
		t    schemas.FieldType
		f    *schemas.Field
		v    string
		okay bool
	}{
		{phone, pf, "+44 20 7946 0000", true},
		{phone, pf, "call me", false},
		{text, code, "ABC-12", true},
		{text, code, "abc-12", false},
	} {
		if err := c.t.CheckValue(nil, c.f, c.v); (err == nil) != c.okay {
			t.Errorf("%s %q: %v", c.f.Name, c.v, err)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := phone.CheckValue(nil, pf, "+44 20 7946 0000"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("checking a phone value allocates %.0f times: the pattern is compiled per value", allocs)
	}
}
