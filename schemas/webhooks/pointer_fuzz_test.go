package webhooks

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzPointer: parsing never panics, and a parsed pointer written back (escaped) parses to
// the same tokens; looking it up in any JSON document never panics.
func FuzzPointer(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b", "/a~1b", "/m~0n", "/0", "/a/01", "~", "/a~", "/a~2"} {
		f.Add(s, `{"a": {"b": [1, {"c": 2}]}, "a/b": 3, "m~n": 4}`)
	}
	f.Fuzz(func(t *testing.T, p, doc string) {
		ptr, err := ParsePointer(p)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, tok := range ptr {
			b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
		}
		again, err := ParsePointer(b.String())
		if err != nil || len(again) != len(ptr) {
			t.Fatalf("%q → %q → %q, %v", p, b.String(), again, err)
		}
		for i := range ptr {
			if again[i] != ptr[i] {
				t.Fatalf("%q: token %d %q became %q", p, i, ptr[i], again[i])
			}
		}
		var v any
		if json.Unmarshal([]byte(doc), &v) == nil {
			ptr.Get(v)
		}
	})
}
