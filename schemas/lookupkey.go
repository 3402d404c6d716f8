package schemas

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
)

// Lookup keys: imports name related records by text ("Acme S.p.A.", "ACME  spa", an email)
// compared case- and space-insensitively in Go (strings.ToLower, words joined by one space).
// SQLite's lower() folds ASCII only and has no whitespace classes, so the database cannot
// compute that key; it computes a coarser one, the lookup key: the text without spaces,
// KELVIN SIGN and LATIN CAPITAL I WITH DOT (the two runes other than ASCII that Go lowers
// to ASCII) mapped to "k" and "i", ASCII-lowered; a text holding any other whitespace (a
// tab, a no-break space: rare in names) gets the key [OddKey], and those records are read
// once and compared in Go. Two texts equal in Go have lookup keys among [KeyVariants] of the
// Go form (or OddKey), so an indexed IN over the variants finds every candidate and the
// exact comparison is done in Go. The expression nests only a few calls: SQLite builds with
// a fixed parser stack (the sqlite3 shell) refuse deeply nested expressions in a schema.

// spaceRunes are the runes unicode.IsSpace reports besides ' ' (TestSpaceRunes checks it).
var spaceRunes = []rune{'\t', '\n', '\v', '\f', '\r', 0x85, 0xA0, 0x1680,
	0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
	0x2028, 0x2029, 0x202F, 0x205F, 0x3000}

// OddKey is the lookup key of texts holding whitespace other than spaces.
const OddKey = "\x01"

// KeyExpr is the SQL lookup key of column (a quoted or qualified column name): the
// expression of the key indexes [Collection] declares; a query must spell it the same way
// for SQLite to read the index.
func KeyExpr(column string) string { return keyExpr(column, spaceRunes) }

// DomainKeyExpr is [KeyExpr] for a "domain" field: a value with a "/" (written as a URL,
// "https://www.acme.example/about", whose host the database cannot extract) is odd too.
func DomainKeyExpr(column string) string {
	return keyExpr(column, append(slices.Clone(spaceRunes), '/'))
}

func keyExpr(column string, odd []rune) string {
	codes := make([]string, len(odd))
	for i, r := range odd {
		codes[i] = fmt.Sprint(int(r))
	}
	return "(CASE WHEN " + column + " GLOB '*[' || char(" + strings.Join(codes, ",") + ") || ']*' THEN char(1) " +
		"ELSE lower(replace(replace(replace(" + column + ", ' ', ''), char(8490), 'k'), char(304), 'i')) END)"
}

// KeyIndexName is the name of the lookup-key index of field on object.
func KeyIndexName(object, field string) string { return "idx_" + object + "_" + field + "_key" }

// KeyFields are the fields of o that name its records in imports (relation cells) and that
// get a lookup-key index: the title field, email fields and a field named "domain".
func KeyFields(o *Object) []string {
	var names []string
	if o.TitleField != "" {
		names = append(names, o.TitleField)
	}
	for _, f := range o.Fields {
		if (f.Type == TypeEmail || f.Name == "domain") && f.Name != o.TitleField {
			names = append(names, f.Name)
		}
	}
	return names
}

// keyIndexed reports whether f's column holds text a lookup key can be computed from.
func keyIndexed(f *Field) bool {
	switch f.Type {
	case TypeText, TypeEmail, TypeURL, TypePhone:
		return true
	}
	return false
}

// addKeyIndexes adds to c the lookup-key indexes of o's [KeyFields] it lacks, reporting
// whether it added any.
func addKeyIndexes(c *core.Collection, o *Object) bool {
	have := map[string]bool{}
	for _, idx := range c.Indexes {
		have[strings.ToLower(dbutils.ParseIndex(idx).IndexName)] = true
	}
	added := false
	for _, name := range KeyFields(o) {
		f := o.Field(name)
		if f == nil || !keyIndexed(f) || c.Fields.GetByName(name) == nil {
			continue
		}
		if n := KeyIndexName(o.Name, name); !have[strings.ToLower(n)] {
			expr := KeyExpr("`" + name + "`")
			if name == "domain" {
				expr = DomainKeyExpr("`" + name + "`")
			}
			c.AddIndex(n, false, expr, "")
			added = true
		}
	}
	return added
}

// KeyOf is the lookup key of s as Go computes it (what [KeyExpr] gives for s, except that
// runes other than ASCII are lowered): for tests and for keys already in Go's lower case.
func KeyOf(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// lowerFrom maps a rune other than ASCII to the other runes Go lowers to it.
var (
	lowerFrom     map[rune][]rune
	lowerFromOnce sync.Once
)

func preimages(c rune) []rune {
	lowerFromOnce.Do(func() {
		lowerFrom = map[rune][]rune{}
		for r := rune(0x80); r <= unicode.MaxRune; r++ {
			if l := unicode.ToLower(r); l != r && l >= 0x80 {
				lowerFrom[l] = append(lowerFrom[l], r)
			}
		}
	})
	return lowerFrom[c]
}

// KeyVariants returns the lookup keys ([KeyExpr]) a stored text may have when its Go form
// (strings.ToLower, whitespace collapsed: k) is k: the key of k, with each rune other than
// ASCII also in its upper-case forms, which SQLite's lower() leaves as they are. It returns
// false when there would be more than max variants (a name in a script with case, such as
// Greek or Cyrillic, of many letters): the caller then reads the candidates another way.
func KeyVariants(k string, max int) ([]string, bool) {
	simple := true
	for i := 0; i < len(k); i++ {
		if c := k[i]; c >= 0x80 || c <= ' ' {
			simple = false
			break
		}
	}
	if simple { // ASCII without spaces: the key itself (most names, every email and domain)
		return []string{k}, max >= 1
	}
	out := []string{""}
	for _, c := range k {
		if unicode.IsSpace(c) {
			continue
		}
		if c == utf8.RuneError {
			// invalid UTF-8 became U+FFFD in Go: the stored bytes are unknown
			return nil, false
		}
		alts := []rune{c}
		if c >= 0x80 {
			alts = append(alts, preimages(c)...)
		}
		if len(out)*len(alts) > max {
			return nil, false
		}
		next := make([]string, 0, len(out)*len(alts))
		for _, p := range out {
			for _, a := range alts {
				next = append(next, p+string(a))
			}
		}
		out = next
	}
	return out, true
}
