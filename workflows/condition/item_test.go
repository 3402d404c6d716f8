package condition_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/relata/relata/workflows/condition"
)

// Inside a for_each, expressions see item (a record of another object) beside record; its
// fields are typed and checked like record's.
func TestCompileForItem(t *testing.T) {
	companies, contacts := defaultObject(t, "companies"), defaultObject(t, "contacts")
	p, err := condition.CompileFor(companies, contacts, `item.source == "website" && record.name == "Acme" && "vip" in item.tags`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		item map[string]any
		want bool
	}{
		{map[string]any{"source": "website", "tags": []any{"vip"}}, true},
		{map[string]any{"source": "referral", "tags": []any{"vip"}}, false},
		{map[string]any{"source": "website"}, false},
		{nil, false},
	} {
		got, err := p.Eval(condition.Input{Record: map[string]any{"name": "Acme"}, Item: tt.item})
		if err != nil || got != tt.want {
			t.Errorf("item %v: %v, %v; want %v", tt.item, got, err, tt.want)
		}
	}
	v, err := condition.CompileValueFor(companies, contacts, `"Call " + item.full_name + " at " + record.name`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Run(condition.Input{Record: map[string]any{"name": "Acme"}, Item: map[string]any{"full_name": "Ada"}}); err != nil || got != "Call Ada at Acme" {
		t.Errorf("value = %v, %v", got, err)
	}
	for src, want := range map[string]string{
		`item.ful_name == ""`: `unknown field "ful_name" of item (a record of contacts) (did you mean "full_name"?)`,
		`item.full_name > 3`:  "mismatched types",
		`let item = 1; item`:  "cannot declare item",
	} {
		_, err := condition.CompileFor(companies, contacts, src)
		var ce *condition.Error
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, want) {
			t.Errorf("%s: %v; want …%s…", src, err, want)
		}
	}
	// Without an item object, item is not a name.
	if _, err := condition.Compile(companies, `item.full_name == ""`); err == nil {
		t.Error("item accepted outside a for_each")
	}
}
