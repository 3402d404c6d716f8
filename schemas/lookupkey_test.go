package schemas_test

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestSpaceRunes: the whitespace that makes a text odd in KeyExpr is exactly what
// unicode.IsSpace (and so strings.Fields, which imports split names on) knows besides the
// space, and KELVIN SIGN and LATIN CAPITAL I WITH DOT are the only runes other than ASCII
// that Go lowers to ASCII.
func TestSpaceRunes(t *testing.T) {
	expr := schemas.KeyExpr("x")
	start := strings.Index(expr, "char(") + len("char(")
	listed := map[rune]bool{}
	for _, c := range strings.Split(expr[start:start+strings.Index(expr[start:], ")")], ",") {
		n := 0
		for _, d := range c {
			n = n*10 + int(d-'0')
		}
		listed[rune(n)] = true
	}
	var toASCII []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if want := unicode.IsSpace(r) && r != ' '; want != listed[r] {
			t.Errorf("U+%04X: IsSpace %v, listed by KeyExpr %v", r, unicode.IsSpace(r), listed[r])
		}
		if r >= 0x80 && unicode.ToLower(r) < 0x80 {
			toASCII = append(toASCII, r)
		}
	}
	if !slices.Equal(toASCII, []rune{0x130, 0x212A}) {
		t.Errorf("runes lowered to ASCII: %U", toASCII)
	}
}

var keySeeds = []string{"Acme S.p.A.", "ACME  s.p.a. ", "\tÉCOLE\u00a0Nationale\n", "Müller GmbH", "\u212Aelvin",
	"İSTANBUL", "ΔΈΛΤΑ", "ǅemal", "Straße", "STRASSE", "ﬃ", "ΣΊΣΥΦΟΣ", "a\u2028b", "", " ", "x@Example.COM", "\xff\xfe"}

// FuzzKeyVariants: the lookup key SQLite computes for a stored text (KeyExpr, in a real
// database) is OddKey exactly when the text holds whitespace other than spaces, and else
// among the KeyVariants of the text's Go form, so an indexed IN over the variants (and the
// odd records, read once) misses no record Go would match.
func FuzzKeyVariants(f *testing.F) {
	for _, s := range keySeeds {
		f.Add(s)
	}
	app := schemastest.OpenApp(f, f.TempDir())
	f.Fuzz(func(t *testing.T, s string) {
		var key string
		if err := app.DB().NewQuery("SELECT " + schemas.KeyExpr("{:s}") + " AS k").Bind(dbx.Params{"s": s}).Row(&key); err != nil {
			t.Fatal(err)
		}
		if odd := strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && unicode.IsSpace(r) }); odd != (key == schemas.OddKey) {
			t.Fatalf("%q: SQLite key %q, other whitespace %v", s, key, odd)
		} else if odd {
			return // read once by every lookup, compared in Go
		}
		goForm := strings.ToLower(strings.Join(strings.Fields(s), " "))
		variants, ok := schemas.KeyVariants(goForm, 1<<12)
		if !ok {
			return // too many variants (or invalid UTF-8): lookups read every record
		}
		if !slices.Contains(variants, key) {
			t.Fatalf("%q: SQLite key %q not among the %d variants of %q", s, key, len(variants), goForm)
		}
	})
}
