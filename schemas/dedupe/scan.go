package dedupe

import (
	"database/sql"
	"fmt"
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// maxScanCandidates bounds the records one probe of [CheckScanned] takes from the scan (a
// phone number shared by many records: a switchboard).
const maxScanCandidates = 50

// CheckScanned returns, for each of probes (field name to value, as about to be created or
// just created), the records of o that c may view and that it may duplicate by a phone or
// domain rule, best first (scored by every rule, as [Check] does), leaving out exclude[i]
// for probe i (its own record; exclude may be nil). These are the rules [CheckIndexed]
// leaves out because no index bounds them: instead of one scan of the table per probe (a
// LIKE in SQL), the phone and domain fields of every record are read once for all probes
// and matched in Go — phones by their last seven digits whatever separates them, domains by
// their normal form ([NormalizeDomain]) — and only the records that share a key are read
// whole and scored. A probe with no phone or domain value gets nil. With createdBefore set,
// only records created before it are considered (those that were there before an import).
func CheckScanned(app core.App, c schemas.Caller, o *schemas.Object, rs *Rules, probes []map[string]any, exclude []string, createdBefore types.DateTime) ([][]Match, error) {
	ix := &Index{object: o, rules: rs.For(o)}
	if rs != nil {
		ix.region = rs.Region
	}
	coll, err := app.FindCachedCollectionByNameOrId(o.Name)
	if err != nil {
		return nil, fmt.Errorf("no object %q: %w", o.Name, err)
	}
	// The keys each probe is looked for by.
	byKey := map[string][]int{}
	cols := []string{"id"}
	for _, r := range ix.rules.Rules {
		if (r.Match == MatchPhone || r.Match == MatchDomain) && coll.Fields.GetByName(r.Field) != nil && !slices.Contains(cols, r.Field) {
			cols = append(cols, r.Field)
		}
		for p, values := range probes {
			v := text(values[r.Field])
			switch r.Match {
			case MatchPhone:
				if k := phoneKey(NormalizePhone(v, ix.region)); k != "" {
					byKey["p\x00"+k] = appendOnce(byKey["p\x00"+k], p)
				}
			case MatchDomain:
				if d := NormalizeDomain(v); d != "" {
					byKey["d\x00"+d] = appendOnce(byKey["d\x00"+d], p)
				}
			}
		}
	}
	out := make([][]Match, len(probes))
	if len(byKey) == 0 || len(cols) == 1 {
		return out, nil
	}
	// One pass over the table: the ids of the records sharing a key with each probe.
	candidates := make([][]string, len(probes))
	q := app.ConcurrentDB().Select(cols...).From(o.Name)
	if !createdBefore.IsZero() {
		q.AndWhere(dbx.NewExp("[["+schemas.FieldCreated+"]] < {:before}", dbx.Params{"before": createdBefore.String()}))
	}
	rows, err := q.Rows()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.Name, err)
	}
	defer rows.Close()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		id := vals[0].String
		for i, col := range cols[1:] {
			v := vals[i+1].String
			if v == "" {
				continue
			}
			var keys []string
			for _, r := range ix.rules.Rules {
				if r.Field != col {
					continue
				}
				switch r.Match {
				case MatchPhone:
					if k := digitsKey(v); k != "" {
						keys = append(keys, "p\x00"+k)
					}
				case MatchDomain:
					if d := NormalizeDomain(v); d != "" {
						keys = append(keys, "d\x00"+d)
					}
				}
			}
			for _, k := range keys {
				for _, p := range byKey[k] {
					if id != excluded(exclude, p) && len(candidates[p]) < maxScanCandidates {
						candidates[p] = appendOnce(candidates[p], id)
					}
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// Score each probe's candidates by every rule, then keep those the caller may view.
	for p, ids := range candidates {
		if len(ids) == 0 {
			continue
		}
		in := make([]any, len(ids))
		for i, id := range ids {
			in[i] = id
		}
		cix, err := newIndex(app, c, o, rs, dbx.In(o.Name+".id", in...), nil)
		if err != nil {
			return nil, err
		}
		if out[p], err = viewable(app, c, o, cix.Match(probes[p], excluded(exclude, p))); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// phoneKey is the last seven digits of a phone number in E.164, "" for a shorter one.
func phoneKey(e164 string) string {
	if len(e164) < 8 { // "+" and seven digits
		return ""
	}
	return e164[len(e164)-7:]
}

// digitsKey is the last seven digits of a stored phone, whatever separates them ("+39 02
// 1234-5678" → "2345678"), "" with fewer: the candidates [Check]'s LIKE finds, refined by
// scoring their normal form.
func digitsKey(s string) string {
	var b [7]byte
	n := 0
	for i := len(s) - 1; i >= 0 && n < 7; i-- {
		if c := s[i]; c >= '0' && c <= '9' {
			n++
			b[7-n] = c
		}
	}
	if n < 7 {
		return ""
	}
	return string(b[:])
}

func excluded(exclude []string, p int) string {
	if p < len(exclude) {
		return exclude[p]
	}
	return ""
}

func appendOnce[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
