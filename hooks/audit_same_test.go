package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tools/types"
)

// TestSameAgreesWithJSON checks that same's direct comparisons of the usual field types give
// the answer of comparing the values' JSON forms (what the audit stores), for equal and
// different values, mixed types and blanks.
func TestSameAgreesWithJSON(t *testing.T) {
	t.Parallel()
	d1, _ := types.ParseDateTime(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	d2, _ := types.ParseDateTime(time.Date(2026, 12, 3, 9, 0, 0, 1e6, time.UTC))
	d1again, _ := types.ParseDateTime("2026-12-03 09:00:00.000Z")
	values := []any{nil, "", "a", "b", "1", true, false, 0.0, 1.0, 1.5, 0, 1, 2, []string{}, []string{"a"}, []string{"a", "b"},
		[]string{"b", "a"}, types.DateTime{}, d1, d2, d1again, types.JSONRaw(`{"a":1}`), types.JSONRaw(`{"a":2}`), map[string]any{"a": 1.0}}
	viaJSON := func(a, b any) bool {
		if blank(a) && blank(b) {
			return true
		}
		x, err1 := json.Marshal(a)
		y, err2 := json.Marshal(b)
		return err1 == nil && err2 == nil && bytes.Equal(x, y)
	}
	for _, a := range values {
		for _, b := range values {
			if got, want := same(a, b), viaJSON(a, b); got != want {
				t.Errorf("same(%s, %s) = %v; the JSON forms say %v", show(a), show(b), got, want)
			}
		}
	}
}

func show(v any) string { return fmt.Sprintf("%T(%v)", v, v) }
