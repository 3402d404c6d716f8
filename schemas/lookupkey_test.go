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

// TestSpaceRunes: the whitespace KeyExpr removes is exactly what unicode.IsSpace (and so
// strings.Fields, which imports split names on) knows, and KELVIN SIGN and LATIN CAPITAL I
// WITH DOT are the only runes other than ASCII that Go lowers to ASCII.
func TestSpaceRunes(t *testing.T) {
	expr := schemas.KeyExpr("x")
	var toASCII []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		has := strings.Contains(expr, ", char("+itoa(int(r))+"), '')")
		if unicode.IsSpace(r) != has {
			t.Errorf("U+%04X: IsSpace %v, removed by KeyExpr %v", r, unicode.IsSpace(r), has)
		}
		if r >= 0x80 && unicode.ToLower(r) < 0x80 {
			toASCII = append(toASCII, r)
		}
	}
	if !slices.Equal(toASCII, []rune{0x130, 0x212A}) {
		t.Errorf("runes lowered to ASCII: %U", toASCII)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

var keySeeds = []string{"Acme S.p.A.", "ACME  s.p.a. ", "\tÉCOLE\u00a0Nationale\n", "Müller GmbH", "\u212Aelvin",
	"İSTANBUL", "ΔΈΛΤΑ", "ǅemal", "Straße", "STRASSE", "ﬃ", "ΣΊΣΥΦΟΣ", "a\u2028b", "", " ", "x@Example.COM", "\xff\xfe"}

// FuzzKeyVariants: the lookup key SQLite computes for a stored text (KeyExpr, in a real
// database) is always among the KeyVariants of the text's Go form, so an indexed IN over
// the variants misses no record Go would match.
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
