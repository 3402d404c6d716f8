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

// Mentions returns the ids of the people text mentions, each once, in the order first
// mentioned. A mention is "@" at the start of the text or after a character that is neither a
// letter, a digit nor one of ._%+- (so the "@" inside ada@example.com is no mention), followed
// by a person's email address ("@ada@example.com"), full name ("@Ada Lovelace", any case) or
// the part of the address before "@" ("@ada") when it names only one person. The longest
// name that fits wins ("@Ada Lovelace" over "@Ada"), and a name must end where a word ends
// ("@Adam" does not mention Ada).
func Mentions(text string, people []Person) []string {
	if !strings.Contains(text, "@") || len(people) == 0 {
		return nil
	}
	byEmail := map[string]string{}
	local := map[string]string{} // local part → id, "" when shared by several
	for _, p := range people {
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
	for i := 0; i < len(text); i++ {
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
		best, bestLen := "", 0
		for _, p := range people {
			name := strings.Join(strings.Fields(p.Name), " ")
			if n := prefixFold(rest, name); n > bestLen {
				best, bestLen = p.ID, n
			}
		}
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

// prefixFold returns the length in bytes of the prefix of s equal to name ignoring case,
// when that prefix ends a word; else 0. Spaces in s may be any run of white space.
func prefixFold(s, name string) int {
	if name == "" {
		return 0
	}
	i := 0
	for _, want := range name {
		if i >= len(s) {
			return 0
		}
		got, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case want == ' ' && unicode.IsSpace(got):
			for i < len(s) {
				r, n := utf8.DecodeRuneInString(s[i:])
				if !unicode.IsSpace(r) {
					break
				}
				i += n
			}
			continue
		case unicode.SimpleFold(want) == got || want == got || unicode.ToLower(want) == unicode.ToLower(got):
		default:
			return 0
		}
		i += size
	}
	if i < len(s) {
		if next, _ := utf8.DecodeRuneInString(s[i:]); unicode.IsLetter(next) || unicode.IsDigit(next) {
			return 0
		}
	}
	return i
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._%+-", r)
}
