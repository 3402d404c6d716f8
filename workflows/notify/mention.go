package notify

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Person is a user who can be mentioned.
type Person struct {
	ID, Name, Email string
}

var mentionEmail = regexp.MustCompile(`^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)

// MaxMentions is the most people one text mentions; further names in it stay text. Each
// mention is checked for access and notified (by email too, when wanted) in the transaction
// that saves the note: a note naming every colleague must not notify them all.
const MaxMentions = 50

// Mentions returns the ids of the people text mentions, each once, in the order first
// mentioned, at most [MaxMentions]. A mention is "@" at the start of the text or after a
// character that is neither a letter, a digit nor one of ._%+- (so the "@" inside
// ada@example.com is no mention), followed by a person's email address ("@ada@example.com"),
// full name ("@Ada Lovelace", any case) or the part of the address before "@" ("@ada") when
// it names only one person. The longest name that fits wins ("@Ada Lovelace" over "@Ada"),
// and a name must end where a word ends ("@Adam" does not mention Ada).
//
// The work is linear in the text (times the longest name), whatever the number of people:
// names are looked up in a trie, not compared one by one at every "@".
func Mentions(text string, people []Person) []string {
	if !strings.Contains(text, "@") || len(people) == 0 {
		return nil
	}
	byEmail := map[string]string{}
	local := map[string]string{} // local part → id, "" when shared by several
	names := nameTrie{edges: map[nameEdge]int32{}, ids: []string{""}}
	for _, p := range people {
		names.add(p.Name, p.ID)
		e := strings.ToLower(strings.TrimSpace(p.Email))
		if e == "" {
			continue
		}
		byEmail[e] = p.ID
		l, _, _ := strings.Cut(e, "@")
		if prev, seen := local[l]; seen && prev != p.ID {
			local[l] = ""
		} else {
			local[l] = p.ID
		}
	}
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for i := 0; i < len(text) && len(out) < MaxMentions; i++ {
		if text[i] != '@' {
			continue
		}
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(text[:i])
			if isWordRune(prev) {
				continue
			}
		}
		rest := text[i+1:]
		if m := mentionEmail.FindString(rest); m != "" {
			if id, ok := byEmail[strings.ToLower(strings.TrimRight(m, "."))]; ok {
				add(id)
				i += len(m)
				continue
			}
		}
		best, bestLen := names.longest(rest)
		if best == "" {
			// The local part of an address: the longest run of address characters.
			end := 0
			for end < len(rest) && strings.IndexByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-", rest[end]) >= 0 {
				end++
			}
			word := strings.ToLower(strings.TrimRight(rest[:end], "."))
			if id := local[word]; id != "" && word != "" {
				best, bestLen = id, len(word)
			}
		}
		if best != "" {
			add(best)
			i += bestLen
		}
	}
	return out
}

// nameTrie holds people's full names, letter case folded and spaces single, one node per
// character: node 0 is the root, ids[n] the person whose name ends at node n ("" for none).
type nameTrie struct {
	edges map[nameEdge]int32
	ids   []string
}

type nameEdge struct {
	from int32
	r    rune
}

// add adds name (any spacing) for id; of two people with the same name the first is meant.
func (t *nameTrie) add(name, id string) {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" {
		return
	}
	node := int32(0)
	for _, r := range name {
		e := nameEdge{node, foldRune(r)}
		next, ok := t.edges[e]
		if !ok {
			next = int32(len(t.ids))
			t.ids = append(t.ids, "")
			t.edges[e] = next
		}
		node = next
	}
	if t.ids[node] == "" {
		t.ids[node] = id
	}
}

// longest returns the person whose name is the longest prefix of s ending a word, ignoring
// case, a run of white space in s matching a space of the name, and the prefix's length in
// bytes; "", 0 when no name fits.
func (t *nameTrie) longest(s string) (string, int) {
	best, bestLen := "", 0
	node, i := int32(0), 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		k := foldRune(r)
		if unicode.IsSpace(r) {
			k = ' '
			for i+size < len(s) {
				r, n := utf8.DecodeRuneInString(s[i+size:])
				if !unicode.IsSpace(r) {
					break
				}
				size += n
			}
		}
		next, ok := t.edges[nameEdge{node, k}]
		if !ok {
			break
		}
		node, i = next, i+size
		if id := t.ids[node]; id != "" && wordEnds(s[i:]) {
			best, bestLen = id, i
		}
	}
	return best, bestLen
}

// wordEnds reports whether s does not go on with a letter or digit.
func wordEnds(s string) bool {
	if s == "" {
		return true
	}
	next, _ := utf8.DecodeRuneInString(s)
	return !unicode.IsLetter(next) && !unicode.IsDigit(next)
}

// foldRune is r's letter case folded: the same for every case of a letter ("A", "a"; "S",
// "s", "ſ"; "İ", "i").
func foldRune(r rune) rune {
	r = unicode.ToLower(r)
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._%+-", r)
}
