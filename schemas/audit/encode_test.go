package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tools/types"
)

// TestEncodeChangesIsJSON checks that the changes and the chained fields are encoded byte for
// byte as encoding/json encodes them: the stored changes and every hash of a trail written
// before depend on it.
func TestEncodeChangesIsJSON(t *testing.T) {
	dt, _ := types.ParseDateTime(time.Date(2026, 12, 3, 15, 4, 5, 0, time.UTC))
	var nilPtr *string
	cases := []map[string]Change{
		nil,
		{},
		{"full_name": {New: "Ada Lovelace"}, "email": {New: "ada@example.com"}, "owner": {Old: "usr1", New: "usr2"}},
		{"password": {Redacted: true}, "b": {}, "a": {Old: 3.5, New: int64(-2)}},
		{"notes": {Old: `<p>Q&A "quoted" \ back</p>`, New: "é ü 日本 \u2028 \x01 \x7f"}, "k<&>\"": {New: true}},
		{"tags": {Old: []string{"a", "<b>"}, New: []any{"x", 1, nil}}, "when": {New: dt}, "json": {New: map[string]any{"z": 1, "a": []int{1}}}},
		{"ptr": {Old: nilPtr, New: types.JSONRaw(`{"b": 1, "a": 2}`)}},
		{"bad utf8": {New: "a\xffb"}, "\xfe": {Old: ""}},
	}
	for i, c := range cases {
		got, err := encodeChanges(c)
		want, err2 := json.Marshal(c)
		if c == nil {
			want = []byte("{}") // the writers replace nil by an empty map
		}
		if err != nil || err2 != nil || !bytes.Equal(got, want) {
			t.Errorf("case %d: encodeChanges = %s (%v), json.Marshal = %s (%v)", i, got, err, want, err2)
		}
	}
	e := &Entry{Seq: 42, At: "2026-12-03 15:04:05.000Z", ActorKind: "user", ActorID: "usr1234567890ab", Via: "workflow:<Welcome & \"hi\">",
		Object: "contacts", Record: "con1", Action: "update", ChangesHash: "ab", PrevHash: ""}
	want, _ := json.Marshal([]any{e.Seq, e.At, e.ActorKind, e.ActorID, e.Via, e.Object, e.Record, e.Action, e.ChangesHash, e.PrevHash})
	if got := appendChainFields(nil, e); !bytes.Equal(got, want) {
		t.Errorf("appendChainFields = %s, json.Marshal = %s", got, want)
	}
}

// FuzzEncodeChanges compares encodeChanges and appendChainFields with encoding/json on
// arbitrary field names and values.
func FuzzEncodeChanges(f *testing.F) {
	f.Add("email", "ada@example.com", "<b>&amp;</b>", int64(7), true)
	f.Add("é", "\u2028\x00", "\xff", int64(-1), false)
	f.Fuzz(func(t *testing.T, key, old, new string, seq int64, redacted bool) {
		c := map[string]Change{key: {Old: old, New: new, Redacted: redacted}, key + "2": {New: []string{old, new}}}
		if old == "" {
			c[key] = Change{New: new, Redacted: redacted}
		}
		got, err := encodeChanges(c)
		want, err2 := json.Marshal(c)
		if err != nil || err2 != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeChanges = %s (%v), json.Marshal = %s (%v)", got, err, want, err2)
		}
		e := &Entry{Seq: seq, At: old, ActorKind: new, ActorID: key, Via: old + new, Object: key, Record: new, Action: old, ChangesHash: key, PrevHash: new}
		want, _ = json.Marshal([]any{e.Seq, e.At, e.ActorKind, e.ActorID, e.Via, e.Object, e.Record, e.Action, e.ChangesHash, e.PrevHash})
		if got := appendChainFields(nil, e); !bytes.Equal(got, want) {
			t.Fatalf("appendChainFields = %s, json.Marshal = %s", got, want)
		}
	})
}
