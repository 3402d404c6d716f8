package dedupe_test

import (
	"math"
	"sync"
	"testing"

	"github.com/relata/relata/schemas/dedupe"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name string
		fn   func(string) string
		in   string
		want string
	}{
		{"email case and space", dedupe.NormalizeEmail, "  Mario.Rossi@Example.COM ", "mario.rossi@example.com"},
		{"email plus tag", dedupe.NormalizeEmail, "mario+crm@example.com", "mario@example.com"},
		{"gmail dots", dedupe.NormalizeEmail, "Mario.Rossi@googlemail.com", "mariorossi@gmail.com"},
		{"email without domain", dedupe.NormalizeEmail, "mario@", ""},
		{"not an email", dedupe.NormalizeEmail, "mario rossi", ""},
		{"email without dot in domain", dedupe.NormalizeEmail, "a@localhost", ""},
		{"italian phone with region", func(s string) string { return dedupe.NormalizePhone(s, "IT") }, "02 1234 5678", "+390212345678"},
		{"italian phone with 00", func(s string) string { return dedupe.NormalizePhone(s, "IT") }, "0039 02 1234 5678", "+390212345678"},
		{"international with punctuation", func(s string) string { return dedupe.NormalizePhone(s, "") }, "+39 (02) 1234-5678", "+390212345678"},
		{"us phone", func(s string) string { return dedupe.NormalizePhone(s, "US") }, "(415) 555-2671", "+14155552671"},
		{"no region no prefix", func(s string) string { return dedupe.NormalizePhone(s, "") }, "02 1234 5678", ""},
		{"too short", func(s string) string { return dedupe.NormalizePhone(s, "IT") }, "12", ""},
		{"not a phone", func(s string) string { return dedupe.NormalizePhone(s, "IT") }, "call me", ""},
		{"domain from url", dedupe.NormalizeDomain, "https://www.Acme.com/about?x=1", "acme.com"},
		{"domain plain", dedupe.NormalizeDomain, "ACME.example.", "acme.example"},
		{"domain with port", dedupe.NormalizeDomain, "acme.com:8080/x", "acme.com"},
		{"domain from email", dedupe.NormalizeDomain, "info@acme.com", "acme.com"},
		{"not a domain", dedupe.NormalizeDomain, "acme", ""},
		{"www is the name", dedupe.NormalizeDomain, "www.com", "www.com"},
		{"empty label", dedupe.NormalizeDomain, "a..b", ""},
		{"name accents and legal form", dedupe.NormalizeName, "Café Rossi S.r.l.", "cafe rossi"},
		{"name punctuation", dedupe.NormalizeName, "O'Brien,  Mary-Jane", "o brien mary jane"},
		{"company suffixes", dedupe.NormalizeName, "Acme S.p.A.", "acme"},
		{"only a legal form", dedupe.NormalizeName, "Inc.", "inc"},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			if got := s.fn(s.in); got != s.want {
				t.Fatalf("%q: got %q; want %q", s.in, got, s.want)
			}
		})
	}
}

func TestJaroWinkler(t *testing.T) {
	t.Parallel()
	// Reference values from Winkler (1990) and the usual test pairs.
	scenarios := []struct {
		a, b string
		want float64
	}{
		{"martha", "marhta", 0.961},
		{"dwayne", "duane", 0.840},
		{"dixon", "dicksonx", 0.813},
		{"same", "same", 1},
		{"", "x", 0},
		{"abc", "xyz", 0},
		{"josé", "jose", 0.883},
	}
	for _, s := range scenarios {
		if got := dedupe.JaroWinkler(s.a, s.b); math.Abs(got-s.want) > 0.001 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f; want %.3f", s.a, s.b, got, s.want)
		}
	}
	if got := dedupe.NameSimilarity("rossi mario", "mario rossi"); got != 1 {
		t.Errorf("word order: got %.3f; want 1", got)
	}
}

// TestNormalizeNameConcurrent: the accent-stripping chains are pooled (a chain is not safe
// for concurrent use); names normalised at the same time on many goroutines, accented and
// not, each come out as they do alone. Run with -race to see a shared chain.
func TestNormalizeNameConcurrent(t *testing.T) {
	cases := map[string]string{
		"Café Rossi S.r.l.": "cafe rossi", "Škoda Auto a.s.": "skoda auto as", "Zoë  Ünal": "zoe unal",
		"Acme Inc.": "acme", "O'Brien, Mary": "o brien mary", "Ångström GmbH": "angstrom",
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(cases)*50)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for in, want := range cases {
					if got := dedupe.NormalizeName(in); got != want {
						errs <- in + " -> " + got + ", want " + want
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
		break
	}
}
