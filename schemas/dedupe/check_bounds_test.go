package dedupe_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/schemastest"
)

// TestCheckBoundsHostileNames: a sales rep sends the duplicate check (and a REST create
// asking for the warning) names no person has — a thousand and one words, tens of thousands
// of one-letter words in reverse order, 300 KB — against a contact of hers that shares a
// word with them. Each answers (the check with its matches, the create with PocketBase's 400
// for the name's length) instead of an SQL error. (The quadratic sort that took 3.5 s of CPU
// on the reverse-ordered name is gone; no timing is asserted here.)
func TestCheckBoundsHostileNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	acme := e.create(t, "companies", map[string]any{"name": "Acme"})
	mario := e.create(t, "contacts", map[string]any{"full_name": "Mario Rossi", "company": acme.Id, "owner": e.alice.Id})

	var reverse strings.Builder
	for r := rune(0x9FFF); r > 0x9FFF-30000; r-- { // CJK letters, one a word, descending
		reverse.WriteRune(r)
		reverse.WriteByte(' ')
	}
	names := []struct{ name, fullName string }{
		{"1,001 words", strings.Repeat("mario ", 1001)},
		{"10,001 distinct words", func() string {
			var sb strings.Builder
			for i := range 10001 {
				sb.WriteString("ma" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + " ")
			}
			return sb.String()
		}()},
		{"30,000 one-letter words in reverse order", "mario " + reverse.String()},
		{"300 KB", "Mario " + strings.Repeat("r", 300<<10)},
	}
	for _, n := range names {
		var out struct {
			Matches []dedupe.Match
			Message string
		}
		q := url.Values{"full_name": {n.fullName}, "company": {acme.Id}}
		code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/duplicates/contacts/check?"+q.Encode(), e.aliceTok, nil, &out)
		if code != 200 {
			t.Errorf("check with %s = %d %q; want 200", n.name, code, out.Message)
		}
		code, _, _ = e.rest(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": n.fullName, "company": acme.Id})
		if code != 400 {
			t.Errorf("create with %s = %d; want 400 (too long)", n.name, code)
		}
	}
	// A name is still found by its words.
	var out struct{ Matches []dedupe.Match }
	q := url.Values{"full_name": {"Rossi Mario"}, "company": {acme.Id}}
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/duplicates/contacts/check?"+q.Encode(), e.aliceTok, nil, &out); code != 200 ||
		len(out.Matches) != 1 || out.Matches[0].ID != mario.Id {
		t.Errorf("check of Rossi Mario = %d %+v; want Mario Rossi", code, out.Matches)
	}
}
