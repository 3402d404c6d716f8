package dedupe

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// NormalizeEmail returns the comparable form of an email address: trimmed, lower case, without
// a "+tag" in the local part, and for Gmail without dots ("Mario.Rossi+crm@GMail.com" and
// "mariorossi@gmail.com" are one mailbox). It returns "" for text that is not an address.
func NormalizeEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD")))
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return "" // no address holds a space
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return ""
	}
	local, domain := s[:at], strings.TrimRight(s[at+1:], ".")
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	// A domain of labels: "a.b", never ".b", "a..b" or "." (so a result normalises to itself).
	if local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.Contains(domain, "..") {
		return ""
	}
	return local + "@" + domain
}

// NormalizePhone returns a phone number in E.164 ("+390212345678"), read with region (an ISO
// 3166 code such as "IT") when the number has no international prefix. It returns "" for text
// that is not a possible phone number.
func NormalizePhone(s, region string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return ""
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	n, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return ""
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	// Text with letters can parse to a number that does not read back as itself ("+382 00A0…"
	// drops an extension): only a result that is its own normal form compares.
	again, err := phonenumbers.Parse(e164, "")
	if err != nil || !phonenumbers.IsPossibleNumber(again) || phonenumbers.Format(again, phonenumbers.E164) != e164 {
		return ""
	}
	return e164
}

// NormalizeDomain returns the host of a web address, domain or email address, lower case and
// without "www." ("https://www.Acme.com/about" → "acme.com"), or "".
func NormalizeDomain(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if at := strings.LastIndexByte(s, '@'); at >= 0 && !strings.Contains(s, "/") {
		s = s[at+1:]
	}
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			s = u.Hostname()
		}
	}
	if i := strings.IndexAny(s, "/?#:"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	if rest := strings.TrimPrefix(s, "www."); strings.Contains(rest, ".") {
		s = rest
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return ""
	}
	for _, l := range labels {
		if l == "" || strings.IndexFunc(l, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' }) >= 0 {
			return ""
		}
	}
	return s
}

// legalForms are words of company names that say nothing about which company it is.
var legalForms = map[string]bool{
	"srl": true, "spa": true, "snc": true, "sas": true, "srls": true, "inc": true, "ltd": true, "llc": true,
	"gmbh": true, "ag": true, "sa": true, "bv": true, "nv": true, "plc": true, "co": true, "corp": true,
	"corporation": true, "company": true, "limited": true, "the": true, "sarl": true, "oy": true, "ab": true,
}

var stripMarks = runes.Remove(runes.In(unicode.Mn))

// accentStrippers keep the chain that takes accents off (decompose, drop the marks,
// recompose) for reuse: a chain holds ~24 KB of buffers, built anew on every call it was the
// largest allocation of a form submission's duplicate check. A chain is not safe for
// concurrent use, hence one per caller at a time.
var accentStrippers = sync.Pool{New: func() any { return transform.Chain(norm.NFD, stripMarks, norm.NFC) }}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// NormalizeName returns the comparable form of a person's or company's name: lower case,
// without accents or punctuation, single-spaced, without legal forms such as "S.r.l." or
// "Inc." ("Café Rossi S.r.l." → "cafe rossi").
func NormalizeName(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	if !isASCII(s) { // accents only exist beyond ASCII: an ASCII name is its own decomposition
		t := accentStrippers.Get().(transform.Transformer)
		if out, _, err := transform.String(t, s); err == nil {
			s = out
		}
		accentStrippers.Put(t) // transform.String resets it before use
	}
	s = strings.ToLower(strings.ReplaceAll(s, ".", ""))
	words := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := words[:0]
	for _, w := range words {
		if !legalForms[w] {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		out = words // a name made only of legal forms is still a name
	}
	return strings.Join(out, " ")
}

// JaroWinkler is the Jaro–Winkler similarity of a and b, from 0 (nothing in common) to 1
// (equal), compared by runes: the share of matching characters within a window of half the
// longer string, less half the transpositions, with a bonus of 0.1 for each of up to four
// common leading characters (Winkler, 1990). "martha" and "marhta" score 0.961.
func JaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	window := max(len(ra), len(rb))/2 - 1
	window = max(window, 0)
	ma := make([]bool, len(ra))
	mb := make([]bool, len(rb))
	matches := 0
	for i, r := range ra {
		lo, hi := max(0, i-window), min(len(rb), i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && rb[j] == r {
				ma[i], mb[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	trans, j := 0, 0
	for i := range ra {
		if !ma[i] {
			continue
		}
		for !mb[j] {
			j++
		}
		if ra[i] != rb[j] {
			trans++
		}
		j++
	}
	m := float64(matches)
	jaro := (m/float64(len(ra)) + m/float64(len(rb)) + (m-float64(trans)/2)/m) / 3
	prefix := 0
	for prefix < min(4, len(ra), len(rb)) && ra[prefix] == rb[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}

// NameSimilarity compares two normalized names with [JaroWinkler], also with their words
// sorted, so that "rossi mario" matches "mario rossi".
func NameSimilarity(a, b string) float64 {
	s := JaroWinkler(a, b)
	if t := JaroWinkler(sortedWords(a), sortedWords(b)); t > s {
		s = t
	}
	return s
}

func sortedWords(s string) string {
	w := strings.Fields(s)
	slices.Sort(w)
	return strings.Join(w, " ")
}

// maxNameKeys bounds the blocking keys of one name: a check's query has one LIKE per key,
// and a "name" of a thousand words (sent to the duplicate check) made a query SQLite refuses
// or takes seconds to run.
const maxNameKeys = 8

// nameKeys are the blocking keys of a normalized name: the first four letters of each word
// (of its first maxNameKeys distinct ones). Two names are compared only when they share one,
// so a typo in every word's first letters goes unnoticed; that is the price of not comparing
// every pair.
func nameKeys(name string) []string {
	var keys []string
	for _, w := range strings.Fields(name) {
		r := []rune(w)
		if len(r) < 2 {
			continue
		}
		if k := string(r[:min(4, len(r))]); !slices.Contains(keys, k) {
			keys = append(keys, k)
			if len(keys) == maxNameKeys {
				break
			}
		}
	}
	return keys
}

// maxCompared bounds the runes of a value the rules compare: names are compared by
// Jaro–Winkler, whose cost grows with the product of the lengths, and a value sent to the
// duplicate check (or in a create, checked before PocketBase validates its length) may be
// megabytes long. No name, email, phone or domain is this long.
const maxCompared = 500

// clip is s cut to maxCompared runes.
func clip(s string) string {
	if len(s) <= maxCompared {
		return s
	}
	n := 0
	for i := range s {
		if n == maxCompared {
			return s[:i]
		}
		n++
	}
	return s
}
