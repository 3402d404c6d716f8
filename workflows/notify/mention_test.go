package notify_test

import (
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
