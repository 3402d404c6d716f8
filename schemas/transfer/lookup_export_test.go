package transfer

import (
	"fmt"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// LookupProbe exposes a relation lookup to tests: the indexed lookup imports use, and the
// lookup imports used before (every record's keys read at once), on the same data.
type LookupProbe struct{ l *lookup }

// NewLookupProbe prepares the lookup of target as as (nil: a superuser).
func (s *Service) NewLookupProbe(target string, as *core.Record) (*LookupProbe, error) {
	l, err := newLookup(s.app, s.reg, target, caller(as, "GET"))
	return &LookupProbe{l}, err
}

// Find resolves cell as an import does.
func (p *LookupProbe) Find(cell string) (string, error) { return p.l.find(cell) }

// FindAsBefore resolves cell from the keys of every record, read at once (the old lookup).
func (p *LookupProbe) FindAsBefore(cell string) (string, error) {
	if p.l.obj == nil {
		return p.l.find(cell) // users were always read at once
	}
	ref := &lookup{app: p.l.app, info: p.l.info, obj: p.l.obj, coll: p.l.coll}
	if _, err := ref.fallback(""); err != nil {
		return "", err
	}
	keys := []string{normKey(cell)}
	if d := normDomain(cell); d != keys[0] {
		keys = append(keys, d)
	}
	for _, k := range keys {
		if ref.full.ambiguous[k] {
			return "", fmt.Errorf("%q names more than one %s record", cell, ref.coll.Name)
		}
		if id, ok := ref.full.ids[k]; ok {
			return id, nil
		}
	}
	return "", fmt.Errorf("not found")
}

// Queries is the number of indexed queries made; ReadAll whether every record was read.
func (p *LookupProbe) Queries() int  { return p.l.queries }
func (p *LookupProbe) ReadAll() bool { return p.l.full != nil }

// Plan is SQLite's query plan of the candidates of cell's key.
func (p *LookupProbe) Plan(cell string) ([]string, error) {
	q, err := p.l.candidates([]string{normKey(cell)})
	if err != nil || q == nil {
		return nil, err
	}
	b := q.Build()
	var rows []struct {
		Detail string `db:"detail"`
	}
	if err := p.l.app.ConcurrentDB().NewQuery("EXPLAIN QUERY PLAN " + b.SQL()).Bind(b.Params()).All(&rows); err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Detail
	}
	return out, nil
}

// Prefetch resolves cells at once, as an import does for each group of rows.
func (p *LookupProbe) Prefetch(cells []string) error {
	var keys []string
	for _, c := range cells {
		keys = append(keys, normKey(c))
		if d := normDomain(c); d != normKey(c) {
			keys = append(keys, d)
		}
	}
	return p.l.prefetch(keys)
}

// OddPlan is SQLite's query plan of the read of the odd records (other whitespace, URLs).
func (p *LookupProbe) OddPlan() ([]string, error) {
	var terms []string
	for _, f := range keyFields(p.l.obj) {
		terms = append(terms, p.l.keyExpr(f)+" = char(1)")
	}
	var rows []struct {
		Detail string `db:"detail"`
	}
	err := p.l.app.ConcurrentDB().NewQuery("EXPLAIN QUERY PLAN SELECT id FROM " + p.l.coll.Name + " WHERE " + strings.Join(terms, " OR ")).All(&rows)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Detail
	}
	return out, err
}
