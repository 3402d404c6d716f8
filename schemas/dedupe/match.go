package dedupe

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Blocks larger than these are cut: a name block compares at most maxNameBlock records with
// each other; an exact block (one email on many records) pairs each record with its first.
const (
	maxNameBlock  = 400
	maxExactBlock = 40
	// maxCheckRead bounds the records one check reads (a very common name at one company).
	maxCheckRead = 2000
)

// Reason says why a pair matched: the rule's kind and field, and what they share (the
// normalized value, or for names their similarity).
type Reason struct {
	Match      string  `json:"match"`
	Field      string  `json:"field"`
	Value      string  `json:"value,omitempty"`
	Similarity float64 `json:"similarity,omitempty"`
}

func (r Reason) String() string {
	if r.Match == MatchName {
		return fmt.Sprintf("%s %.0f%% alike", r.Field, r.Similarity*100)
	}
	return fmt.Sprintf("same %s %s", r.Field, r.Value)
}

// Pair is two records that may be one: A was created first.
type Pair struct {
	A       string   `json:"a"`
	B       string   `json:"b"`
	ATitle  string   `json:"aTitle"`
	BTitle  string   `json:"bTitle"`
	Score   float64  `json:"score"`
	Reasons []Reason `json:"reasons"`
}

// Match is an existing record that a new one may duplicate.
type Match struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Score   float64  `json:"score"`
	Reasons []Reason `json:"reasons"`
}

// entry is one record as the rules see it: per rule its normalized value (and for name rules
// the value of the field both must share).
type entry struct {
	id, title string
	vals      []string
	same      []string
}

// Index holds the records of one object that a caller may view, by the blocking keys of its
// rules, to find pairs among them ([Index.Pairs]) or records like a new one ([Index.Match]).
// Building it reads the object's records once (id and the compared fields only).
type Index struct {
	object  *schemas.Object
	rules   *ObjectRules
	region  string
	entries []entry
	blocks  map[string][]int32
	// unused marks the rules a check's probe has no value for: the candidates' values of
	// those rules cannot change its score, so they are not normalised (a phone number's
	// parse is the costliest step of a form's duplicate check). nil: every rule is used.
	unused []bool
}

// NewIndex reads the records of o that c may view and indexes them by rs (nil: the default
// rules of o). The caller's view is applied in SQL by [schemas.ListScope], so a pair or match
// never names a record c cannot see.
func NewIndex(app core.App, c schemas.Caller, o *schemas.Object, rs *Rules) (*Index, error) {
	return newIndex(app, c, o, rs, nil, nil)
}

// Check returns the records of o that c may view and that a record with values may
// duplicate, best first, leaving out exclude. Unlike [NewIndex] it reads only the records
// that could share a blocking key with values, so checking one new record stays cheap
// however many records o has. The prefilter reads: emails starting with the same local
// part (Gmail: letter) at the same domain, phones ending in the same seven digits,
// domain fields containing the domain, and names containing a word's first four letters
// (at the same sameField value); names whose accents differ from the new one's are missed.
// The caller's view rule is checked on the matches ([schemas.Caller.ViewableIDs]).
func Check(app core.App, c schemas.Caller, o *schemas.Object, rs *Rules, values map[string]any, exclude string) ([]Match, error) {
	return check(app, c, o, rs, values, exclude, false)
}

// CheckIndexed is [Check] with only the rules an index bounds: emails (a range of the field's
// index) and names compared within the same value of another field (a relation's index, such
// as contacts at the same company). Phone digits and domains are matched anywhere in the text,
// which only a scan of the whole table can do: fine when someone asks, too costly for checks
// made automatically on every form submission at a million records.
func CheckIndexed(app core.App, c schemas.Caller, o *schemas.Object, rs *Rules, values map[string]any, exclude string) ([]Match, error) {
	return check(app, c, o, rs, values, exclude, true)
}

func check(app core.App, c schemas.Caller, o *schemas.Object, rs *Rules, values map[string]any, exclude string, indexedOnly bool) ([]Match, error) {
	ix := &Index{object: o, rules: rs.For(o)}
	if rs != nil {
		ix.region = rs.Region
	}
	e := ix.entryOf("", values)
	// columns named with their table: the caller's list rule may join other tables
	qc := func(f string) string { return "[[" + o.Name + "." + f + "]]" }
	var ors []dbx.Expression
	for i, r := range ix.rules.Rules {
		v := e.vals[i]
		if v == "" {
			continue
		}
		col := "LOWER(" + qc(r.Field) + ")"
		switch r.Match {
		case MatchEmail:
			// the local part (its first letter for Gmail, which ignores dots), then anything
			// (a +tag), then the domain
			at := strings.LastIndexByte(v, '@')
			local, domains := v[:at], []string{v[at:]}
			n := len(local)
			if domains[0] == "@gmail.com" {
				n, domains = 1, append(domains, "@googlemail.com")
			}
			// Relata's hooks store emails in lower case: the local part's prefix is a range of
			// the field's index (the "!= ''" lets SQLite use a unique field's partial index).
			prefix := local[:min(n, len(local))]
			rng := fmt.Sprintf("%s != '' AND %s >= {:el%d} AND %s < {:eh%d} AND ", qc(r.Field), qc(r.Field), i, qc(r.Field), i)
			for j, d := range domains {
				key := fmt.Sprintf("e%d_%d", i, j)
				ors = append(ors, dbx.NewExp(rng+col+" LIKE {:"+key+"} ESCAPE '\\'",
					dbx.Params{key: escapeLike(prefix) + "%" + escapeLike(d),
						fmt.Sprintf("el%d", i): prefix, fmt.Sprintf("eh%d", i): prefix + "\xff"}))
			}
		case MatchPhone:
			if indexedOnly {
				continue
			}
			// the last seven digits, whatever separates them (one LIKE, no REPLACE per row)
			digits := strings.TrimPrefix(v, "+")
			digits = digits[max(0, len(digits)-7):]
			pattern := "%" + strings.Join(strings.Split(digits, ""), "%")
			ors = append(ors, dbx.NewExp(qc(r.Field)+" LIKE {:p"+fmt.Sprint(i)+"}", dbx.Params{"p" + fmt.Sprint(i): pattern}))
		case MatchDomain:
			if indexedOnly {
				continue
			}
			for j, q := range ix.rules.Rules { // any domain field may hold it
				if q.Match == MatchDomain {
					key := fmt.Sprintf("d%d_%d", i, j)
					ors = append(ors, dbx.NewExp("LOWER("+qc(q.Field)+") LIKE {:"+key+"} ESCAPE '\\'", dbx.Params{key: "%" + escapeLike(v) + "%"}))
				}
			}
		case MatchExact, MatchName:
			if r.SameField != "" && e.same[i] == "" || r.SameField == "" && indexedOnly {
				continue
			}
			var words []dbx.Expression
			for j, k := range nameKeys(v) {
				key := fmt.Sprintf("n%d_%d", i, j)
				words = append(words, dbx.NewExp(col+" LIKE {:"+key+"} ESCAPE '\\'", dbx.Params{key: "%" + escapeLike(k) + "%"}))
			}
			if len(words) == 0 {
				continue
			}
			exp := dbx.Or(words...)
			if r.SameField != "" {
				key := fmt.Sprintf("s%d", i)
				exp = dbx.And(exp, dbx.NewExp(qc(r.SameField)+" = {:"+key+"}", dbx.Params{key: e.same[i]}))
			}
			ors = append(ors, exp)
		}
	}
	if len(ors) == 0 {
		return nil, nil
	}
	ix, err := newIndex(app, c, o, rs, dbx.Or(ors...), unusedRules(ix.rules, e))
	if err != nil {
		return nil, err
	}
	return viewable(app, c, o, ix.Match(values, exclude))
}

// viewable keeps the matches c may view, in their order (the caller's view rule checked on
// the matches alone: [schemas.Caller.ViewableIDs]).
func viewable(app core.App, c schemas.Caller, o *schemas.Object, matches []Match) ([]Match, error) {
	if len(matches) == 0 {
		return nil, nil
	}
	ids := make([]string, len(matches))
	for i, m := range matches {
		ids[i] = m.ID
	}
	ok, err := c.ViewableIDs(app, o.Name, ids)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(matches, func(m Match) bool { return !ok[m.ID] }), nil
}

// likeEscaper escapes LIKE's wildcards (built once: a Replacer is costly to build).
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

func escapeLike(s string) string { return likeEscaper.Replace(s) }

// unusedRules are the rules whose candidates' values cannot score against probe: those it
// has no value for, and the domain rules when it has no domain at all (any domain field
// matches any other, see [Index.score]).
func unusedRules(rules *ObjectRules, probe entry) []bool {
	unused := make([]bool, len(rules.Rules))
	anyDomain := false
	for i, r := range rules.Rules {
		if r.Match == MatchDomain && probe.vals[i] != "" {
			anyDomain = true
		}
	}
	for i, r := range rules.Rules {
		unused[i] = probe.vals[i] == "" && (r.Match != MatchDomain || !anyDomain)
	}
	return unused
}

func newIndex(app core.App, c schemas.Caller, o *schemas.Object, rs *Rules, where dbx.Expression, unused []bool) (*Index, error) {
	ix := &Index{object: o, rules: rs.For(o), blocks: map[string][]int32{}, unused: unused}
	if rs != nil {
		ix.region = rs.Region
	}
	coll, err := app.FindCachedCollectionByNameOrId(o.Name)
	if err != nil {
		return nil, fmt.Errorf("no object %q: %w", o.Name, err)
	}
	cols := []string{"id"}
	add := func(f string) {
		if f != "" && !slices.Contains(cols, f) && coll.Fields.GetByName(f) != nil {
			cols = append(cols, f)
		}
	}
	add(o.TitleField)
	for _, r := range ix.rules.Rules {
		add(r.Field)
		add(r.SameField)
	}
	q := app.ConcurrentDB().Select(cols...).From(o.Name)
	if where == nil {
		// the whole object: the records the caller may list, by their list rule
		scope, params, err := schemas.ListScope(app, coll, c)
		if err != nil {
			return nil, err
		}
		if scope != "" {
			q.AndWhere(dbx.NewExp("[[id]] IN ("+scope+")", params))
		}
	} else {
		// a check: the records sharing a key, found through the fields' indexes; the
		// caller's view is checked on the matches alone ([Check]), as the list rule in the
		// query would make SQLite list every record the caller may see first
		q.AndWhere(where).Limit(maxCheckRead)
	}
	q.OrderBy(o.Name+".created ASC", o.Name+".id ASC")
	rows, err := q.Rows()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		row := dbx.NullStringMap{}
		if err := rows.ScanMap(row); err != nil {
			return nil, err
		}
		vals := make(map[string]any, len(row))
		for k, v := range row {
			vals[k] = v.String
		}
		ix.add(ix.entryOf(row["id"].String, vals))
	}
	return ix, rows.Err()
}

// Len is the number of indexed records.
func (ix *Index) Len() int { return len(ix.entries) }

func (ix *Index) entryOf(id string, values map[string]any) entry {
	e := entry{id: id, vals: make([]string, len(ix.rules.Rules)), same: make([]string, len(ix.rules.Rules))}
	e.title = text(values[ix.object.TitleField])
	for i, r := range ix.rules.Rules {
		if ix.unused != nil && id != "" && ix.unused[i] {
			continue
		}
		v := clip(text(values[r.Field]))
		switch r.Match {
		case MatchEmail:
			e.vals[i] = NormalizeEmail(v)
		case MatchPhone:
			e.vals[i] = NormalizePhone(v, ix.region)
		case MatchDomain:
			e.vals[i] = NormalizeDomain(v)
		case MatchExact, MatchName:
			e.vals[i] = NormalizeName(v)
		}
		if r.SameField != "" {
			e.same[i] = text(values[r.SameField])
		}
	}
	return e
}

// keys are e's blocking keys, each prefixed with its rule's index.
func (ix *Index) keys(e entry) []string {
	var out []string
	for i, r := range ix.rules.Rules {
		v := e.vals[i]
		if v == "" {
			continue
		}
		if r.Match == MatchDomain {
			// every domain rule of an object shares one key space: a company's domain
			// field matches another's website
			out = append(out, "d\x00"+v)
			continue
		}
		if r.Match != MatchName {
			out = append(out, fmt.Sprintf("%d\x00%s", i, v))
			continue
		}
		if r.SameField != "" && e.same[i] == "" {
			continue
		}
		for _, k := range nameKeys(v) {
			out = append(out, fmt.Sprintf("%d\x00%s\x00%s", i, e.same[i], k))
		}
	}
	return out
}

func (ix *Index) add(e entry) {
	n := int32(len(ix.entries))
	ix.entries = append(ix.entries, e)
	for _, k := range ix.keys(e) {
		ix.blocks[k] = append(ix.blocks[k], n)
	}
}

// score compares a and b by every rule.
func (ix *Index) score(a, b *entry) (float64, []Reason) {
	miss := 1.0
	var reasons []Reason
	// domains: one reason for the best-scoring domain rule whose value the other record has
	// in any of its domain fields
	best := -1
	for i, r := range ix.rules.Rules {
		if r.Match != MatchDomain || a.vals[i] == "" || (best >= 0 && ix.rules.Rules[best].Score >= r.Score) {
			continue
		}
		for j, q := range ix.rules.Rules {
			if q.Match == MatchDomain && b.vals[j] == a.vals[i] {
				best = i
				break
			}
		}
	}
	if best >= 0 {
		r := ix.rules.Rules[best]
		miss *= 1 - r.Score
		reasons = append(reasons, Reason{Match: r.Match, Field: r.Field, Value: a.vals[best]})
	}
	for i, r := range ix.rules.Rules {
		va, vb := a.vals[i], b.vals[i]
		if va == "" || vb == "" || r.Match == MatchDomain {
			continue
		}
		if r.Match != MatchName {
			if va == vb {
				miss *= 1 - r.Score
				reasons = append(reasons, Reason{Match: r.Match, Field: r.Field, Value: va})
			}
			continue
		}
		if r.SameField != "" && (a.same[i] == "" || a.same[i] != b.same[i]) {
			continue
		}
		threshold := r.Threshold
		if threshold == 0 {
			threshold = 0.9
		}
		if s := NameSimilarity(va, vb); s >= threshold {
			miss *= 1 - r.Score*s
			reasons = append(reasons, Reason{Match: r.Match, Field: r.Field, Similarity: math.Round(s*1000) / 1000})
		}
	}
	return math.Round((1-miss)*1000) / 1000, reasons
}

func (ix *Index) minScore() float64 {
	if ix.rules.MinScore > 0 {
		return ix.rules.MinScore
	}
	return 0.5
}

// Pairs returns the pairs of indexed records whose score reaches the rules' minimum, best
// first. Only records sharing a blocking key are compared: the same normalized email, phone,
// domain or exact value, or (names) a word's first four letters and the shared field.
func (ix *Index) Pairs() []Pair {
	seen := map[[2]int32]bool{}
	var out []Pair
	try := func(i, j int32) {
		if i == j {
			return
		}
		if i > j {
			i, j = j, i
		}
		if seen[[2]int32{i, j}] {
			return
		}
		seen[[2]int32{i, j}] = true
		a, b := &ix.entries[i], &ix.entries[j]
		if s, rs := ix.score(a, b); s >= ix.minScore() && len(rs) > 0 {
			out = append(out, Pair{A: a.id, B: b.id, ATitle: a.title, BTitle: b.title, Score: s, Reasons: rs})
		}
	}
	for k, members := range ix.blocks {
		if len(members) < 2 {
			continue
		}
		if strings.Count(k, "\x00") == 1 { // an exact block
			if len(members) > maxExactBlock {
				for _, m := range members[1:] {
					try(members[0], m)
				}
				continue
			}
		} else if len(members) > maxNameBlock {
			members = members[:maxNameBlock]
		}
		for x := range members {
			for y := x + 1; y < len(members); y++ {
				try(members[x], members[y])
			}
		}
	}
	slices.SortFunc(out, func(p, q Pair) int {
		if c := cmp.Compare(q.Score, p.Score); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(p.A, q.A), cmp.Compare(p.B, q.B))
	})
	return out
}

// Match returns the indexed records that a record with values (field name to value, as
// submitted) may duplicate, best first. exclude is left out (the record itself, on update).
func (ix *Index) Match(values map[string]any, exclude string) []Match {
	e := ix.entryOf("", values)
	seen := map[int32]bool{}
	var out []Match
	for _, k := range ix.keys(e) {
		for _, m := range ix.blocks[k] {
			if seen[m] || ix.entries[m].id == exclude {
				continue
			}
			seen[m] = true
			other := &ix.entries[m]
			if s, rs := ix.score(&e, other); s >= ix.minScore() && len(rs) > 0 {
				out = append(out, Match{ID: other.id, Title: other.title, Score: s, Reasons: rs})
			}
		}
	}
	slices.SortFunc(out, func(p, q Match) int {
		return cmp.Or(cmp.Compare(q.Score, p.Score), cmp.Compare(p.ID, q.ID))
	})
	return out
}

// text is v as text: strings as they are, a relation list's first id.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []string:
		if len(x) > 0 {
			return x[0]
		}
		return ""
	case []any:
		if len(x) > 0 {
			return text(x[0])
		}
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// Likely returns, for each of rows (field name to value, as about to be created), the
// existing records of o that c may view and that the row may duplicate, by o's default
// rules. Each row is checked as a REST create's warning is ([Check]): one query reading only
// the records that share a blocking key with the row, so memory does not grow with the
// object, where reading every record into an [Index] did (the import wizard's preview of 20
// rows against 100,000 contacts: see BENCHMARKS.md, "Duplicates in the import preview").
func Likely(app core.App, c schemas.Caller, o *schemas.Object, rows []map[string]any) ([][]Match, error) {
	out := make([][]Match, len(rows))
	for i, r := range rows {
		m, err := Check(app, c, o, nil, r, "")
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}
