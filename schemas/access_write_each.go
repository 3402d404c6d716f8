package schemas

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/inflector"
	"github.com/pocketbase/pocketbase/tools/search"
	"github.com/pocketbase/pocketbase/tools/security"
)

// CanCreateEach answers [Caller.CanCreate] for many new records of one collection at once,
// recs[i] submitted with the values bodies[i]: the bulk writers' check (imports). The links
// of all of them are checked with one query per relation field, and a create rule that does
// not read @request.body is evaluated over all of them in one query per few dozen records
// (the one-row table of CanCreate, with a row per record); a rule that reads the body, or a
// record that is not new, is checked by CanCreate one by one. ok[i] answers for recs[i].
func (c Caller) CanCreateEach(app core.App, recs []*core.Record, bodies []map[string]any) ([]bool, error) {
	ok := make([]bool, len(recs))
	if len(recs) == 0 {
		return ok, nil
	}
	if c.unrestricted() {
		for i := range ok {
			ok[i] = true
		}
		return ok, nil
	}
	coll := recs[0].Collection()
	batched := coll.CreateRule != nil && !strings.Contains(*coll.CreateRule, "@request.body")
	for _, r := range recs {
		if !r.IsNew() || r.Collection().Id != coll.Id {
			batched = false
		}
	}
	if !batched {
		for i, r := range recs {
			var err error
			if ok[i], err = c.CanCreate(app, r, bodies[i]); err != nil {
				return nil, err
			}
		}
		return ok, nil
	}
	// Nobody links a record they cannot view: CheckLinks for new records, per field.
	linked := make([]bool, len(recs))
	for i := range linked {
		linked[i] = true
	}
	for _, f := range coll.Fields {
		rf, isRel := f.(*core.RelationField)
		if !isRel {
			continue
		}
		seen := map[string]bool{}
		var ids []any
		for _, r := range recs {
			for _, id := range r.GetStringSlice(rf.Name) {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		for start := 0; start < len(ids); start += 200 {
			part := ids[start:min(start+200, len(ids))]
			visible, err := viewableIDs(app, rf.CollectionId, part, c)
			if err != nil {
				return nil, err
			}
			for _, id := range part {
				seen[id.(string)] = visible[id.(string)]
			}
		}
		for i, r := range recs {
			for _, id := range r.GetStringSlice(rf.Name) {
				if !seen[id] {
					linked[i] = false
				}
			}
		}
	}
	if *coll.CreateRule == "" {
		return linked, nil
	}
	// The rule runs against the new values as a table named like the collection, a row per
	// record, with a column numbering them.
	suffix := "__relata_create__" + security.PseudorandomString(6)
	dc := *coll
	dc.Id += suffix
	dc.Name += inflector.Columnify(suffix)
	rowCol := "__relata_row" + inflector.Columnify(suffix)
	resolver := core.NewRecordFieldResolver(app, &dc, c.withBody(nil), true)
	expr, err := search.FilterData(*dc.CreateRule).BuildExpr(resolver)
	if err != nil {
		return nil, fmt.Errorf("create rule of %s: %w", coll.Name, err)
	}
	var cols []string
	exports := make([]map[string]any, len(recs))
	for i, r := range recs {
		dummy := r.Clone()
		if dummy.Id == "" {
			dummy.Id = "__temp_id__" + suffix + strconv.Itoa(i)
		}
		if exports[i], err = dummy.DBExport(app); err != nil {
			return nil, err
		}
		if cols == nil {
			for k := range exports[i] {
				cols = append(cols, k)
			}
		}
	}
	per := max(1, 400/(len(cols)+1))
	for start := 0; start < len(recs); start += per {
		end := min(start+per, len(recs))
		params := dbx.Params{}
		var sb strings.Builder
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(" UNION ALL ")
			}
			p := "__rc" + strconv.Itoa(i-start) + "_"
			sb.WriteString("SELECT {:" + p + "row} AS [[" + rowCol + "]]")
			params[p+"row"] = i
			for j, k := range cols {
				name := p + strconv.Itoa(j)
				params[name] = exports[i][k]
				sb.WriteString(", {:" + name + "} AS [[" + inflector.Columnify(k) + "]]")
			}
		}
		q := app.DB().Select("[[" + dc.Name + "." + rowCol + "]]").
			PreFragment(fmt.Sprintf("WITH {{%s}} as (%s)", dc.Name, sb.String())).
			From(dc.Name).AndBind(params).AndWhere(expr)
		if err := resolver.UpdateQuery(q); err != nil {
			return nil, err
		}
		var passed []int
		if err := q.Column(&passed); err != nil {
			return nil, fmt.Errorf("create rule of %s: %w", coll.Name, err)
		}
		for _, i := range passed {
			if i >= start && i < end {
				ok[i] = linked[i]
			}
		}
	}
	return ok, nil
}
