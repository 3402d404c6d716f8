package schemas

import (
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/inflector"
	"github.com/pocketbase/pocketbase/tools/search"
	"github.com/pocketbase/pocketbase/tools/security"
)

// The write half of the one access check: whether a caller may create, update or delete a
// record, decided as PocketBase's REST endpoints decide it (the collection's rule evaluated
// with the submitted values as @request.body), plus Relata's link check. Server-side writes
// on a user's behalf (imports, bulk jobs, incoming webhooks) ask here before saving with
// Go's Save, which applies no rule.

// CanCreate reports whether c may create rec (not saved yet) with the submitted values body.
func (c Caller) CanCreate(app core.App, rec *core.Record, body map[string]any) (bool, error) {
	if c.unrestricted() {
		return true, nil
	}
	// Nobody links a record they cannot view (the same check as the REST API's).
	if err := CheckLinks(app, rec, c); err != nil {
		return false, nil //nolint:nilerr // refused, like a failed rule
	}
	coll := rec.Collection()
	if coll.CreateRule == nil {
		return false, nil
	}
	if *coll.CreateRule == "" {
		return true, nil
	}
	info := c.withBody(body)
	dummy := rec.Clone()
	suffix := "__relata_create__" + security.PseudorandomString(6)
	if dummy.Id == "" {
		dummy.Id = "__temp_id__" + suffix
	}
	export, err := dummy.DBExport(app)
	if err != nil {
		return false, err
	}
	params := make(dbx.Params, len(export))
	selects := make([]string, 0, len(export))
	for k, v := range export {
		k = inflector.Columnify(k)
		p := "__relata_create__" + k
		params[p] = v
		selects = append(selects, "{:"+p+"} AS [["+k+"]]")
	}
	// The rule runs against the new values as a one-row table named like the collection, as
	// PocketBase's create endpoint does.
	dc := *coll
	dc.Id += suffix
	dc.Name += inflector.Columnify(suffix)
	q := app.DB().Select("(1)").
		PreFragment(fmt.Sprintf("WITH {{%s}} as (SELECT %s)", dc.Name, strings.Join(selects, ","))).
		From(dc.Name).AndBind(params)
	resolver := core.NewRecordFieldResolver(app, &dc, info, true)
	expr, err := search.FilterData(*dc.CreateRule).BuildExpr(resolver)
	if err != nil {
		return false, fmt.Errorf("create rule of %s: %w", coll.Name, err)
	}
	q.AndWhere(expr)
	if err := resolver.UpdateQuery(q); err != nil {
		return false, err
	}
	var ok int
	if err := q.Limit(1).Row(&ok); err != nil {
		return false, nil //nolint:nilerr // no row: the rule denies
	}
	return ok > 0, nil
}

// CanUpdate reports whether c may change the stored record rec with the values body (rec
// holds the new values for the link check; the rule sees the stored record and body).
func (c Caller) CanUpdate(app core.App, rec *core.Record, body map[string]any) (bool, error) {
	if c.unrestricted() {
		return true, nil
	}
	if err := CheckLinks(app, rec, c); err != nil {
		return false, nil //nolint:nilerr // refused, like a failed rule
	}
	return app.CanAccessRecord(rec, c.withBody(body), rec.Collection().UpdateRule)
}

// CanDelete reports whether c may delete rec.
func (c Caller) CanDelete(app core.App, rec *core.Record) (bool, error) {
	if c.unrestricted() {
		return true, nil
	}
	info := *c.RequestInfo()
	info.Method = http.MethodDelete
	return app.CanAccessRecord(rec, &info, rec.Collection().DeleteRule)
}

// withBody is the caller's request info for a write with the submitted values body.
func (c Caller) withBody(body map[string]any) *core.RequestInfo {
	info := *c.RequestInfo()
	info.Body = maps.Clone(body)
	if info.Method == "" || info.Method == http.MethodGet {
		info.Method = http.MethodPost
	}
	return &info
}
