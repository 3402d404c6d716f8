package notify_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/relata/relata/workflows/notify"
)

var people = []notify.Person{
	{ID: "ada", Name: "Ada Lovelace", Email: "ada@example.com"},
	{ID: "adam", Name: "Adam", Email: "adam@example.com"},
	{ID: "bob", Name: "Bob", Email: "bob@example.com"},
	{ID: "bob2", Name: "Roberto Bianchi", Email: "bob@other.example"},
	{ID: "nic", Name: "Niccolò È", Email: "nic@example.com"},
}

func TestMentions(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name, text string
		want       []string
	}{
		{"full name", "Thanks @Ada Lovelace, see below", []string{"ada"}},
		{"any case and spacing", "cc @ada   LOVELACE.", []string{"ada"}},
		{"any white space", "cc @ADA\n\t\u00a0Lovelace", []string{"ada"}},
		{"longest name wins", "@Adam and @Ada Lovelace", []string{"adam", "ada"}},
		{"a name must end a word", "@Adamo called", nil},
		{"email address", "ask @bob@other.example please", []string{"bob2"}},
		{"email at the end of a sentence", "ask @ada@example.com.", []string{"ada"}},
		{"the @ inside an address is no mention", "write to ada@example.com", nil},
		{"local part when unique", "@adam: ok", []string{"adam"}},
		{"local part shared by two is ambiguous", "@bob? no: Bob's name is a mention", []string{"bob"}},
		{"each once, in order", "@Bob @Ada Lovelace @bob", []string{"bob", "ada"}},
		{"accents", "grazie @niccolò è!", []string{"nic"}},
		{"unknown", "@nobody here", nil},
		{"start of text and after punctuation", "(@Bob)", []string{"bob"}},
		{"no @", "Bob Ada", nil},
		{"lone @", "@", nil},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			got := notify.Mentions(s.text, people)
			if !slices.Equal(got, s.want) {
				t.Errorf("Mentions(%q) = %v, want %v", s.text, got, s.want)
			}
		})
	}
}

// FuzzMentions: any text, never a panic, only known ids, each at most once.
func FuzzMentions(f *testing.F) {
	for _, s := range []string{"@Ada Lovelace", "@bob@other.example.", "x@y @ @@ @Adam", "@niccolò è", "\xff@\xfe"} {
		f.Add(s)
	}
	known := map[string]bool{}
	for _, p := range people {
		known[p.ID] = true
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := notify.Mentions(text, people)
		seen := map[string]bool{}
		for _, id := range got {
			if !known[id] || seen[id] {
				t.Fatalf("Mentions(%q) = %v", text, got)
			}
			seen[id] = true
		}
		if len(got) > 0 && !strings.Contains(text, "@") {
			t.Fatalf("mention without @ in %q", text)
		}
	})
}

// TestMentionsBounded: hostile text costs work in proportion to its length, not to its length
// times the number of users (a 100,000-character note of "@ " with 500 users compared every
// name at every "@", seconds in the transaction that saves the note), and names at most
// MaxMentions people however many it mentions (a note naming every colleague notified them
// all, each checked for access while the note's save held the database).
func TestMentionsBounded(t *testing.T) {
	// Not parallel: testing.AllocsPerRun counts the allocations of the whole process.
	many := func(n int) []notify.Person {
		out := make([]notify.Person, n)
		for i := range out {
			out[i] = notify.Person{ID: fmt.Sprint("u", i), Name: fmt.Sprintf("Person Number%d", i), Email: fmt.Sprintf("p%d@example.com", i)}
		}
		return out
	}
	every := func(people []notify.Person, form func(p notify.Person) string) string {
		var b strings.Builder
		for _, p := range people {
			b.WriteString(form(p) + " ")
		}
		return b.String()
	}
	users500, users10001 := many(500), many(10_001)
	for _, s := range []struct {
		name      string
		text      string
		people    []notify.Person
		mentioned int
		allocs    float64 // at most, per call: linear in the text, not in the text times the people
	}{
		{"100,000 characters of @", strings.Repeat("@ ", 50_000), users500, 0, 50_000},
		{"100,000 characters of @P", strings.Repeat("@P ", 33_333), users500, 0, 50_000},
		{"a name's start, over and over", strings.Repeat("@Person Number ", 6_666), users500, 0, 50_000},
		{"10,001 users by name", every(users10001, func(p notify.Person) string { return "@" + p.Name }), users10001, notify.MaxMentions, 200_000},
		{"10,001 users by address", every(users10001, func(p notify.Person) string { return "@" + p.Email }), users10001, notify.MaxMentions, 200_000},
	} {
		t.Run(s.name, func(t *testing.T) {
			var got []string
			allocs := testing.AllocsPerRun(1, func() { got = notify.Mentions(s.text, s.people) })
			if len(got) != s.mentioned {
				t.Errorf("%d people mentioned, want %d", len(got), s.mentioned)
			}
			if allocs > s.allocs {
				t.Errorf("%.0f allocations for %d characters and %d people, want at most %.0f", allocs, len(s.text), len(s.people), s.allocs)
			}
		})
	}
}
