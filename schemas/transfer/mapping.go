package transfer

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/relata/relata/schemas"
)

// column is one mapped column of a file.
type column struct {
	idx   int
	name  string         // the heading
	field *schemas.Field // the field it fills
	// currency is set for a column that holds the ISO code of a currency field
	// ("amount_currency", "Amount currency").
	currency bool
	hints    Hints
}

func norm(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// levenshtein is the edit distance of a and b (runes).
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func similarity(a, b string) float64 {
	n := max(len([]rune(a)), len([]rune(b)))
	if n == 0 {
		return 0
	}
	return 1 - float64(levenshtein(a, b))/float64(n)
}

// minSimilarity is how alike a heading and a field name or label must be to map them
// without being told.
const minSimilarity = 0.8

// target is something a column can fill.
type target struct {
	field    *schemas.Field
	currency bool
	names    []string // normalised name and label
}

func targets(o *schemas.Object) []target {
	var ts []target
	for _, f := range o.Fields {
		ts = append(ts, target{field: f, names: []string{norm(f.Name), norm(f.DisplayLabel())}})
		if f.Type == schemas.TypeCurrency {
			ts = append(ts, target{field: f, currency: true, names: []string{norm(f.Name + schemas.CurrencySuffix), norm(f.DisplayLabel() + " currency")}})
		}
	}
	return ts
}

// relationWords may follow a relation's name in a heading: "Company Name", "Company Domain",
// "Owner Email".
var relationWords = []string{"name", "domain", "email", "id"}

// autoField finds the field a heading names: exactly by name or label (ignoring case,
// spaces and punctuation), with the object's singular name as a prefix ("Contact owner"),
// a relation followed by a natural key ("Company Name"), a field followed by "number", or else the most similar name or
// label when it is similar enough and not a tie.
func autoField(o *schemas.Object, heading string) (*schemas.Field, bool) {
	h := norm(heading)
	if h == "" {
		return nil, false
	}
	ts := targets(o)
	cands := []string{h}
	if p := norm(o.Label.Singular); p != "" && strings.HasPrefix(h, p) && len(h) > len(p) {
		cands = append(cands, strings.TrimPrefix(h, p))
	}
	for _, c := range cands {
		for _, t := range ts {
			for _, n := range t.names {
				if n == c {
					return t.field, t.currency
				}
			}
		}
	}
	for _, c := range cands {
		for _, t := range ts {
			if t.currency {
				continue
			}
			words := []string{"number"} // "Phone Number"
			if t.field.Type == schemas.TypeRelation || t.field.Type == schemas.TypeOwner {
				words = relationWords
			}
			for _, n := range t.names {
				for _, w := range words {
					if c == n+w {
						return t.field, false
					}
				}
			}
		}
	}
	var best *target
	bestScore, tie := 0.0, false
	for i := range ts {
		for _, n := range ts[i].names {
			s := similarity(h, n)
			switch {
			case s > bestScore:
				best, bestScore, tie = &ts[i], s, false
			case s == bestScore && best != nil && best.field != ts[i].field:
				tie = true
			}
		}
	}
	if best == nil || bestScore < minSimilarity || tie {
		return nil, false
	}
	return best.field, best.currency
}

// mapColumns pairs the headings with fields: explicit (heading -> field name, "" to skip)
// first, else automatically. A field filled by two columns keeps the first; the others are
// returned as ignored.
func mapColumns(o *schemas.Object, header []string, explicit map[string]string) (cols []*column, ignored []string, err error) {
	known := map[string]bool{}
	for _, h := range header {
		known[h] = true
	}
	var errs []string
	for h, name := range explicit {
		if !known[h] {
			errs = append(errs, fmt.Sprintf("--map names column %q, which is not in the file (columns: %s)", h, strings.Join(header, ", ")))
			continue
		}
		if name == "" {
			continue
		}
		base := strings.TrimSuffix(name, schemas.CurrencySuffix)
		f := o.Field(name)
		if f == nil {
			if bf := o.Field(base); bf != nil && bf.Type == schemas.TypeCurrency {
				continue
			}
			errs = append(errs, fmt.Sprintf("--map %s=%s: %s has no field %q", h, name, o.Name, name))
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	used := map[string]string{}
	for i, h := range header {
		var f *schemas.Field
		var cur bool
		if name, ok := explicit[h]; ok {
			if name == "" {
				ignored = append(ignored, h)
				continue
			}
			if f = o.Field(name); f == nil {
				f, cur = o.Field(strings.TrimSuffix(name, schemas.CurrencySuffix)), true
			}
		} else {
			f, cur = autoField(o, h)
		}
		if f == nil {
			ignored = append(ignored, h)
			continue
		}
		key := f.Name
		if cur {
			key += schemas.CurrencySuffix
		}
		if prev, dup := used[key]; dup {
			if _, ok := explicit[h]; ok {
				return nil, nil, fmt.Errorf("columns %q and %q both map to field %s", prev, h, key)
			}
			ignored = append(ignored, h)
			continue
		}
		used[key] = h
		cols = append(cols, &column{idx: i, name: h, field: f, currency: cur})
	}
	return cols, ignored, nil
}

// Mapping returns the column -> field pairs, for reports and the batch record.
func mappingOf(cols []*column) map[string]string {
	m := make(map[string]string, len(cols))
	for _, c := range cols {
		name := c.field.Name
		if c.currency {
			name += schemas.CurrencySuffix
		}
		m[c.name] = name
	}
	return m
}
