package privacy

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// How the dossier decides that a text names the person. SQL finds candidates by substring
// (instr: SQLite has no word boundaries), and the functions here keep those that really name
// them. An email address must stand alone: "ann@example.com" is a substring of
// joann@example.com, xann@example.com and ann@example.com.evil.org, three other people whose
// rows an access request must not export and an erasure must not delete or scrub. Names and
// phone numbers must stand as whole words: "Mario Rossi" is in "Mario Rossini", and
// "+39 333 1234567" in "+39 333 12345678", other people again. (A name inside a longer one
// made of whole words — "Ann Lee" in "Jo Ann Lee" — still matches: nothing in the text tells
// them apart.)
//
// The candidates are the rows whose text holds the needle as a substring: the person's rows and
// those of the longer addresses that contain hers. The check in Go adds no query and loads no
// row the substring search did not already load.

// isAddress reports whether a needle is an email address rather than a name or a phone number.
func isAddress(needle string) bool { return strings.Contains(needle, "@") }

// addressRune reports whether r may be part of an address's local part or domain. Letters and
// digits of other scripts count (internationalised addresses, RFC 6531), so "jörg@…" does not
// name "rg@…"; punctuation of other scripts ("：", "«") separates, as a space does.
func addressRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._%+-", r)
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// standsAlone reports whether the address found at s[i:j] is a whole address, not part of a
// longer one.
func standsAlone(s string, i, j int) bool {
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s[:i]); addressRune(r) && !jsonEscapeEndsAt(s, i) {
			return false
		}
	}
	if j < len(s) {
		r, size := utf8.DecodeRuneInString(s[j:])
		if r == '.' {
			// A full stop after the address ends the sentence, unless the domain goes on
			// (ann@example.com.evil.org): a domain never ends with a dot.
			next, _ := utf8.DecodeRuneInString(s[j+size:])
			return j+size == len(s) || !addressRune(next)
		}
		return !addressRune(r)
	}
	return true
}

// jsonEscapeEndsAt reports whether s[:i] ends with a JSON escape ("\n", "\u003c"): JSON values
// are stored encoded, and Go writes "<ann@example.com>" as "\u003cann@example.com\u003e", whose
// "c" is no part of the address.
func jsonEscapeEndsAt(s string, i int) bool {
	if i >= 2 && s[i-2] == '\\' && strings.IndexByte("bfnrt", s[i-1]) >= 0 {
		return true
	}
	if i < 6 || s[i-6] != '\\' || s[i-5] != 'u' {
		return false
	}
	for _, c := range []byte(s[i-4 : i]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only, as SQLite's lower() does, byte by byte, so that
// offsets found in the result are offsets in s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// addressSpans returns the byte spans [i, j) of s where addr stands as a whole address,
// ignoring the case of ASCII letters.
func addressSpans(s, addr string) [][2]int {
	ls, la := asciiLower(s), asciiLower(strings.TrimSpace(addr))
	if la == "" {
		return nil
	}
	var out [][2]int
	for off := 0; off < len(ls); {
		k := strings.Index(ls[off:], la)
		if k < 0 {
			break
		}
		i, j := off+k, off+k+len(la)
		if standsAlone(s, i, j) {
			out = append(out, [2]int{i, j})
			off = j
		} else {
			off = i + 1
		}
	}
	return out
}

// wordRune reports whether r is part of a word: a name or phone number next to one is part
// of a longer one.
func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// termPatterns caches the case-insensitive pattern of each name or phone needle.
var termPatterns sync.Map // string → *regexp.Regexp

// termSpans returns the byte spans [i, j) of s where term (a name or a phone number) stands as
// whole words, ignoring case (Unicode case folding): not preceded or followed by a letter or
// digit, a JSON escape before it ("\nMario") counting as a boundary.
func termSpans(s, term string) [][2]int {
	term = strings.TrimSpace(term)
	if term == "" {
		return nil
	}
	re, ok := termPatterns.Load(term)
	if !ok {
		re, _ = termPatterns.LoadOrStore(term, regexp.MustCompile("(?i)"+regexp.QuoteMeta(term)))
	}
	var out [][2]int
	for _, m := range re.(*regexp.Regexp).FindAllStringIndex(s, -1) {
		i, j := m[0], m[1]
		if i > 0 {
			if r, _ := utf8.DecodeLastRuneInString(s[:i]); wordRune(r) && !jsonEscapeEndsAt(s, i) {
				continue
			}
		}
		if j < len(s) {
			if r, _ := utf8.DecodeRuneInString(s[j:]); wordRune(r) {
				continue
			}
		}
		out = append(out, [2]int{i, j})
	}
	return out
}

// spansOf returns where needle names the person in s: an address standing alone, or a name or
// phone number as whole words.
func spansOf(s, needle string) [][2]int {
	if isAddress(needle) {
		return addressSpans(s, needle)
	}
	return termSpans(s, needle)
}

// replaceSpans replaces the spans of s (in order, not overlapping) by repl.
func replaceSpans(s string, spans [][2]int, repl string) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(repl)
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// mentionsAny reports whether s names one of the needles: an address standing alone, or a
// name or phone number as whole words (case-insensitive). Empty needles name nothing.
func mentionsAny(s string, needles []string) bool {
	for _, n := range needles {
		if strings.TrimSpace(n) != "" && len(spansOf(s, n)) > 0 {
			return true
		}
	}
	return false
}

// fieldText is a record field's value as the SQL candidate search saw it (CAST AS TEXT): the
// text itself, or the JSON of a JSON or multi-value field.
func fieldText(r *core.Record, col string) string {
	switch v := r.Get(col).(type) {
	case nil:
		return ""
	case string:
		return v
	case types.JSONRaw:
		return string(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// recordMentions reports whether one of r's fields cols names the person.
func (d *Dossier) recordMentions(r *core.Record, cols ...string) bool {
	for _, c := range cols {
		if mentionsAny(fieldText(r, c), d.needles) {
			return true
		}
	}
	return false
}
