package transfer

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// lookup resolves the natural keys of one object's records (or of users) to ids: users by
// email or name; companies by name or domain; contacts by email; any object by its title
// field or id. Only records the importing user may list are found.
//
// Users (the team, not the data) are read once. An object's records are looked up per key
// through the lookup-key indexes ([schemas.KeyExpr]): one indexed query per new key, the
// candidates compared exactly in Go, the answers kept in a bounded cache; a key that cannot
// be put as index variants (a long name in a cased script other than Latin) falls back to
// reading the keys of every record once, as imports did before.
type lookup struct {
	app  core.App
	info *core.RequestInfo
	obj  *schemas.Object // nil for users
	coll *core.Collection
	// ids and ambiguous: users' keys (all read at once), and the keys found ambiguous.
	ids       map[string]string
	ambiguous map[string]bool
	// cache holds the ids stored records have per key (at most maxCached keys); created the
	// keys of records the import created; odd the keys of records whose naming fields hold
	// whitespace other than spaces or a domain written as a URL (read once, by the indexes);
	// full is the fallback.
	cache   map[string][]string
	created map[string][]string
	odd     map[string][]string
	full    *lookup
	queries int // indexed queries made (tests)
}

// maxCached bounds the keys a lookup remembers; maxVariants the index keys one key may have.
const (
	maxCached   = 4096
	maxVariants = 64
	// lookupBatch is how many keys one candidate query asks for.
	lookupBatch = 100
)

func normKey(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// normDomain reduces "https://www.Acme.example/about" to "acme.example".
func normDomain(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			s = u.Host
		}
	}
	s = strings.TrimPrefix(s, "www.")
	return strings.TrimSuffix(strings.SplitN(s, "/", 2)[0], ".")
}

func (l *lookup) add(key, id string) {
	if key == "" {
		return
	}
	if prev, ok := l.ids[key]; ok && prev != id {
		l.ambiguous[key] = true
		return
	}
	l.ids[key] = id
}

// keyFields are the fields of o whose values name a record.
func keyFields(o *schemas.Object) []string { return schemas.KeyFields(o) }

// keysOf calls fn with each key of a record: its id and naming fields.
func (l *lookup) keysOf(get func(string) string, fn func(key string)) {
	fn(strings.ToLower(get("id")))
	if l.obj == nil {
		fn(normKey(get("email")))
		fn(normKey(get("name")))
		return
	}
	for _, name := range keyFields(l.obj) {
		v := get(name)
		if name == "domain" {
			v = normDomain(v)
		}
		fn(normKey(v))
	}
}

// addRecord adds a record the import created.
func (l *lookup) addRecord(r *core.Record) {
	if l.obj == nil {
		l.keysOf(r.GetString, func(k string) { l.add(k, r.Id) })
		return
	}
	l.keysOf(r.GetString, func(k string) {
		if k != "" && !slices.Contains(l.created[k], r.Id) {
			l.created[k] = append(l.created[k], r.Id)
		}
	})
}

// newLookup prepares the lookup of target (an object name, or users) for info: users are
// read at once, an object's records key by key ([lookup.find]).
func newLookup(app core.App, reg registry, targetName string, info *core.RequestInfo) (*lookup, error) {
	coll, err := app.FindCachedCollectionByNameOrId(targetName)
	if err != nil {
		return nil, fmt.Errorf("relation target %s: %w", targetName, err)
	}
	l := &lookup{app: app, info: info, coll: coll, ids: map[string]string{}, ambiguous: map[string]bool{},
		cache: map[string][]string{}, created: map[string][]string{}}
	if targetName == schemas.UsersCollection {
		// Owners are named by email or name; who may own what is the create and update
		// rules' business, checked on every row. The users are the team: read them all.
		return l, l.readAll(app.RecordQuery(coll), []string{"id", "email", "name"})
	}
	o, ok := reg.Object(targetName)
	if !ok {
		return nil, fmt.Errorf("relation target %s is not an object", targetName)
	}
	l.obj = o
	// the check that the user may list the target at all, before the first row
	if _, err := listQuery(app, coll, info, "", ""); err != nil {
		return nil, fmt.Errorf("relation target %s: %w", targetName, err)
	}
	return l, nil
}

// readAll adds the keys of every record q reads (the ids and naming fields only, not whole
// records: 100,000 companies are three short strings each).
func (l *lookup) readAll(q *dbx.SelectQuery, cols []string) error {
	var rows []dbx.NullStringMap
	if err := q.Select(l.columns(cols)...).All(&rows); err != nil {
		return fmt.Errorf("relation target %s: %w", l.coll.Name, err)
	}
	for _, row := range rows {
		l.addKeys(row)
	}
	return nil
}

func (l *lookup) columns(cols []string) []string {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = l.coll.Name + "." + c + " AS " + c
	}
	return sel
}

// addKeys adds the keys of one row (its id and naming fields) to l.
func (l *lookup) addKeys(row dbx.NullStringMap) {
	id := row["id"].String
	l.keysOf(func(name string) string { return row[name].String }, func(k string) { l.add(k, id) })
}

// domainForms are the texts whose normDomain, for a value without "/", is k: k with and
// without "www." and a final dot.
func domainForms(k string) []string { return []string{k, "www." + k, k + ".", "www." + k + "."} }

// idsFor returns the ids of the records the key k names.
func (l *lookup) idsFor(k string) ([]string, error) {
	if l.obj == nil {
		if l.ambiguous[k] {
			return []string{"", ""}, nil
		}
		if id, ok := l.ids[k]; ok {
			return []string{id}, nil
		}
		return nil, nil
	}
	if err := l.prefetch([]string{k}); err != nil {
		return nil, err
	}
	ids := slices.Clone(l.cache[k])
	for _, more := range [][]string{l.created[k], l.odd[k]} {
		for _, id := range more {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// prefetch caches the ids of the keys not cached yet, read with one indexed query (a group
// of rows' cells can be resolved at once this way).
func (l *lookup) prefetch(keys []string) error {
	if l.obj == nil {
		return nil
	}
	var missing []string
	for _, k := range keys {
		if _, ok := l.cache[k]; !ok && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	found, err := l.query(missing)
	if err != nil {
		return err
	}
	if len(l.cache)+len(missing) > maxCached {
		clear(l.cache)
	}
	for _, k := range missing {
		l.cache[k] = found[k]
	}
	return nil
}

// query reads the records that may have one of keys through the lookup-key indexes and
// returns the ids of those that have it, by key.
func (l *lookup) query(keys []string) (map[string][]string, error) {
	found := map[string][]string{}
	if l.odd == nil {
		// Texts with whitespace other than spaces (lookup key schemas.OddKey) and domains
		// written as URLs: the index cannot reduce them; read them once, compare in Go.
		l.odd = map[string][]string{}
		fields := keyFields(l.obj)
		var terms []string
		for _, f := range fields {
			terms = append(terms, l.keyExpr(f)+" = char(1)")
		}
		q, err := listQuery(l.app, l.coll, l.info, "", "")
		if err != nil {
			return nil, err
		}
		var rows []dbx.NullStringMap
		if err := q.AndWhere(dbx.NewExp("(" + strings.Join(terms, " OR ") + ")")).
			Select(l.columns(append([]string{"id"}, fields...))...).All(&rows); err != nil {
			return nil, fmt.Errorf("relation target %s: %w", l.coll.Name, err)
		}
		for _, row := range rows {
			id := row["id"].String
			l.keysOf(func(name string) string { return row[name].String }, func(k string) {
				if k != "" && !slices.Contains(l.odd[k], id) {
					l.odd[k] = append(l.odd[k], id)
				}
			})
		}
	}
	var indexed []string
	for _, k := range keys {
		if k == "" {
			continue
		}
		if !indexable(k) {
			ids, err := l.fallback(k)
			if err != nil {
				return nil, err
			}
			found[k] = ids
			continue
		}
		indexed = append(indexed, k)
	}
	if len(indexed) == 0 {
		return found, nil
	}
	want := map[string]bool{}
	for _, k := range indexed {
		want[k] = true
	}
	for chunk := range slices.Chunk(indexed, lookupBatch) {
		q, err := l.candidates(chunk)
		if err != nil {
			return nil, err
		}
		var rows []dbx.NullStringMap
		l.queries++
		if err := q.All(&rows); err != nil {
			return nil, fmt.Errorf("relation target %s: %w", l.coll.Name, err)
		}
		for _, row := range rows {
			id := row["id"].String
			l.keysOf(func(name string) string { return row[name].String }, func(key string) {
				if want[key] && !slices.Contains(found[key], id) {
					found[key] = append(found[key], id)
				}
			})
		}
	}
	return found, nil
}

// prefetchLookups resolves the relation cells of a group of rows before the rows are
// imported one by one: one indexed query per target and lookupBatch keys. Errors are left
// to the rows, which look their cells up again and report them where they are.
func (im *importer) prefetchLookups(rows [][]string) {
	for _, c := range im.cols {
		f := c.field
		if f == nil || c.currency || f.Type != schemas.TypeRelation {
			continue
		}
		l := im.lookups[f.Target]
		if l == nil {
			var err error
			if l, err = newLookup(im.s.app, im.s.reg, f.Target, im.info); err != nil {
				continue
			}
			im.lookups[f.Target] = l
		}
		var keys []string
		for _, cells := range rows {
			if c.idx >= len(cells) || strings.TrimSpace(cells[c.idx]) == "" {
				continue
			}
			parts := []string{strings.TrimSpace(cells[c.idx])}
			if f.Multiple {
				parts = SplitList(cells[c.idx])
			}
			for _, p := range parts {
				k := normKey(p)
				keys = append(keys, k)
				if d := normDomain(p); d != k {
					keys = append(keys, d)
				}
			}
		}
		_ = l.prefetch(keys)
	}
}

// indexable reports whether k's index variants (and those of its domain forms) are few
// enough for a candidate query.
func indexable(k string) bool {
	for _, form := range append(domainForms(k), k) {
		if _, ok := schemas.KeyVariants(form, maxVariants); !ok {
			return false
		}
	}
	return true
}

// candidates is the query of the records that may have one of keys: the records with those
// ids and those whose naming fields' lookup keys are among the keys' variants, read through
// the lookup-key indexes, among the records the user may list. It is nil when a key has too
// many variants.
func (l *lookup) candidates(keys []string) (*dbx.SelectQuery, error) {
	fields := keyFields(l.obj)
	var variants, dvariants []string
	for _, k := range keys {
		v, ok := schemas.KeyVariants(k, maxVariants)
		if !ok {
			return nil, nil
		}
		variants = append(variants, v...)
		for _, form := range domainForms(k) {
			v, ok := schemas.KeyVariants(form, maxVariants)
			if !ok {
				return nil, nil
			}
			dvariants = append(dvariants, v...)
		}
	}
	params := dbx.Params{}
	in := func(prefix string, vals []string) string {
		names := make([]string, len(vals))
		for i, v := range vals {
			names[i] = fmt.Sprintf("{:%s%d}", prefix, i)
			params[fmt.Sprintf("%s%d", prefix, i)] = v
		}
		return "(" + strings.Join(names, ", ") + ")"
	}
	terms := []string{"[[" + l.coll.Name + ".id]] IN " + in("k", keys)}
	vin, din := in("v", variants), in("d", dvariants)
	for _, f := range fields {
		list := vin
		if f == "domain" {
			list = din
		}
		terms = append(terms, l.keyExpr(f)+" IN "+list)
	}
	q, err := listQuery(l.app, l.coll, l.info, "", "")
	if err != nil {
		return nil, err
	}
	return q.AndWhere(dbx.NewExp("("+strings.Join(terms, " OR ")+")", params)).
		Select(l.columns(append([]string{"id"}, fields...))...), nil
}

// keyExpr is the lookup key of field f, as its index spells it.
func (l *lookup) keyExpr(f string) string {
	if f == "domain" {
		return schemas.DomainKeyExpr("[[" + l.coll.Name + "." + f + "]]")
	}
	return schemas.KeyExpr("[[" + l.coll.Name + "." + f + "]]")
}

// fallback answers k from the keys of every record the user may list, read once.
func (l *lookup) fallback(k string) ([]string, error) {
	if l.full == nil {
		full := &lookup{obj: l.obj, coll: l.coll, ids: map[string]string{}, ambiguous: map[string]bool{}}
		q, err := listQuery(l.app, l.coll, l.info, "", "")
		if err != nil {
			return nil, err
		}
		if err := full.readAll(q, append([]string{"id"}, keyFields(l.obj)...)); err != nil {
			return nil, err
		}
		l.full = full
	}
	if l.full.ambiguous[k] {
		return []string{"", ""}, nil // more than one: the ids do not matter
	}
	if id, ok := l.full.ids[k]; ok {
		return []string{id}, nil
	}
	return nil, nil
}

// find returns the id of the record named by cell.
func (l *lookup) find(cell string) (string, error) {
	keys := []string{normKey(cell)}
	if d := normDomain(cell); d != keys[0] {
		keys = append(keys, d)
	}
	if err := l.prefetch(keys); err != nil { // both keys in one query
		return "", err
	}
	for _, k := range keys {
		ids, err := l.idsFor(k)
		if err != nil {
			return "", err
		}
		if len(ids) > 1 {
			l.ambiguous[k] = true
			return "", fmt.Errorf("%q names more than one %s record", cell, l.coll.Name)
		}
		if len(ids) == 1 {
			return ids[0], nil
		}
	}
	if l.obj == nil {
		return "", fmt.Errorf("no user with email or name %q", cell)
	}
	return "", fmt.Errorf("no %s record named %q (by %s)", l.coll.Name, cell, strings.Join(keyFields(l.obj), ", "))
}

// looksLikeDomain reports whether cell is a bare web domain such as acme.example.
func looksLikeDomain(cell string) bool {
	c := strings.TrimSpace(cell)
	return !strings.ContainsAny(c, " @") && strings.Contains(c, ".") && domainRe.MatchString(normDomain(c))
}

var domainRe = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$`)
