package webhooks

import (
	"encoding/json"
	"testing"
)

func TestPointer(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"contact": {"email": "ada@example.com", "tags": ["a", "b"]}, "a/b": 1, "m~n": 2, "": 3}`), &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p     string
		want  any
		found bool
		err   bool
	}{
		{"/contact/email", "ada@example.com", true, false},
		{"/contact/tags/1", "b", true, false},
		{"/contact/tags/2", nil, false, false},
		{"/contact/tags/01", nil, false, false},
		{"/contact/tags/-", nil, false, false},
		{"/a~1b", 1.0, true, false},
		{"/m~0n", 2.0, true, false},
		{"/", 3.0, true, false},
		{"/missing", nil, false, false},
		{"/contact/email/x", nil, false, false},
		{"contact", nil, false, true},
		{"/a~2", nil, false, true},
		{"/a~", nil, false, true},
	} {
		p, err := ParsePointer(c.p)
		if (err != nil) != c.err {
			t.Errorf("ParsePointer(%q) error = %v; want error %v", c.p, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		got, found := p.Get(doc)
		if found != c.found || got != c.want && c.found {
			t.Errorf("%q → %v, %v; want %v, %v", c.p, got, found, c.want, c.found)
		}
	}
}
