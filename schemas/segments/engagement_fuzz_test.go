package segments_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/segments"
)

// FuzzParseEngagement feeds any bytes as a segment's engagement field: a refusal is an
// ErrInvalid naming where (/engagement…); conditions that load are within the limits and
// survive a round trip (Marshal → Parse gives the same conditions).
func FuzzParseEngagement(f *testing.F) {
	for _, s := range []string{``, `null`, `[]`, `[{"event":"open"}]`, `[{"event":"click","campaign":"abc","days":30,"not":true}]`,
		`[{"event":"visit"}]`, `[{"event":"open","days":-1}]`, `{"event":"open"}`, `[{"event":"open","x":1}]`, `[1,2]`, `[{"event":"bounce","days":3651}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		conds, err := segments.ParseEngagement(raw)
		if err != nil {
			if !errors.Is(err, segments.ErrInvalid) || !strings.Contains(err.Error(), "/engagement") {
				t.Fatalf("refusal %v: not located", err)
			}
			return
		}
		if len(conds) > segments.MaxEngagement {
			t.Fatalf("%d conditions loaded", len(conds))
		}
		for _, c := range conds {
			if c.Days < 0 || c.Days > segments.MaxEngagementDays || !slices.Contains(segments.Events, c.Event) {
				t.Fatalf("condition %+v loaded", c)
			}
		}
		b, err := json.Marshal(conds)
		if err != nil {
			t.Fatal(err)
		}
		again, err := segments.ParseEngagement(b)
		if err != nil || (len(conds) > 0 && !reflect.DeepEqual(again, conds)) {
			t.Fatalf("round trip of %s: %v %+v", b, err, again)
		}
	})
}
