package transfer

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/search"

	"github.com/relata/relata/schemas"
)

// The access checks of this package, in one place: when schemas/access.go provides the one
// access API of Relata, these functions should call it.

// caller returns the request info of auth as the REST API would see it. A nil auth is a
// superuser (the command line without --as).
func caller(auth *core.Record, method string) *core.RequestInfo {
	return &core.RequestInfo{
		Auth:    auth,
		Method:  method,
		Context: core.RequestInfoContextDefault,
		Query:   map[string]string{},
		Headers: map[string]string{},
		Body:    map[string]any{},
	}
}

// isSuperuser reports whether info acts with every right: a superuser token, or the
// command line without --as.
func isSuperuser(info *core.RequestInfo) bool {
	return info.Auth == nil || info.HasSuperuserAuth()
}

// canCreate checks coll's create rule for rec (not saved yet) and info, exactly as the REST
// create endpoint does (schemas' one access check).
func canCreate(app core.App, _ *core.Collection, info *core.RequestInfo, rec *core.Record, body map[string]any) (bool, error) {
	if isSuperuser(info) {
		return true, nil
	}
	return schemas.Request(info).CanCreate(app, rec, body)
}

// canUpdate checks the update rule for the stored record rec and the changed values body.
func canUpdate(app core.App, info *core.RequestInfo, rec *core.Record, body map[string]any) (bool, error) {
	if isSuperuser(info) {
		return true, nil
	}
	return schemas.Request(info).CanUpdate(app, rec, body)
}

// canDelete checks the delete rule.
func canDelete(app core.App, info *core.RequestInfo, rec *core.Record) (bool, error) {
	if isSuperuser(info) {
		return true, nil
	}
	return schemas.Request(info).CanDelete(app, rec)
}

// viewableIDs returns which of ids (stored records of coll) info may view, as the REST view
// API decides: superusers every one; a user through [schemas.Caller.ViewableIDs], one query
// per viewBatch ids, so that batch work (an import's key look-ups) costs a query per batch,
// not one per record.
func viewableIDs(app core.App, coll *core.Collection, info *core.RequestInfo, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if isSuperuser(info) {
		for _, id := range ids {
			out[id] = true
		}
		return out, nil
	}
	for chunk := range slices.Chunk(ids, viewBatch) {
		ok, err := schemas.Request(info).ViewableIDs(app, coll.Name, chunk)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, ok)
	}
	return out, nil
}

// viewBatch is how many ids one view-rule query checks: well under SQLite's bound parameters,
// and as many as an import's key look-up usually finds (keyBatch).
const viewBatch = keyBatch

// listQuery returns a query of the records of coll that info may list (its list rule,
// through PocketBase's resolver, as the REST list API), narrowed by the user's filter and
// ordered by sort (both in PocketBase syntax; hidden fields are not allowed in them).
func listQuery(app core.App, coll *core.Collection, info *core.RequestInfo, filter, sort string) (*dbx.SelectQuery, error) {
	q := app.RecordQuery(coll)
	superuser := isSuperuser(info)
	if !superuser {
		if info.Auth.Collection().Name != schemas.UsersCollection || coll.ListRule == nil {
			return nil, errForbidden
		}
	}
	if !superuser {
		if err := superuserOnlyRefs(filter, sort); err != nil {
			return nil, err
		}
		// A filter or sort across a multi-valued relation must not become an oracle.
		if err := schemas.CheckFilter(app, coll, schemas.Request(info), filter, sort); err != nil {
			return nil, err
		}
	}
	resolver := core.NewRecordFieldResolver(app, coll, info, superuser)
	if !superuser && *coll.ListRule != "" {
		expr, err := search.FilterData(*coll.ListRule).BuildExpr(resolver)
		if err != nil {
			return nil, err
		}
		q.AndWhere(expr)
	}
	if strings.TrimSpace(filter) != "" {
		expr, err := search.FilterData(filter).BuildExpr(resolver)
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", filter, err)
		}
		q.AndWhere(expr)
	}
	if strings.TrimSpace(sort) == "" {
		sort = ""
	}
	for _, s := range search.ParseSortFromString(sort) {
		if s.Name == "" {
			continue
		}
		if s.Name == "@rowid" { // the web app's "newest first"; qualified, as the rules may join
			q.AndOrderBy("[[" + coll.Name + "._rowid_]] " + s.Direction)
			continue
		}
		expr, err := s.BuildExpr(resolver)
		if err != nil {
			return nil, fmt.Errorf("sort %q: %w", sort, err)
		}
		if expr != "" {
			q.AndOrderBy(expr)
		}
	}
	q.AndOrderBy(coll.Name + ".id ASC") // stable order for equal sort keys
	if err := resolver.UpdateQuery(q); err != nil {
		return nil, err
	}
	return q, nil
}

// superuserOnlyRefs refuses a non-superuser's filter or sort that names @collection or
// @request, as PocketBase's REST list does (apis/record_helpers.go,
// checkForSuperuserOnlyRuleFields) and [schemas.MatchQuery] for Relata's own reads. The
// resolver would otherwise join @collection.deals with no list rule of its own, so that an
// export's row count answers questions about records the user cannot see
// ("@collection.deals.amount < 150001"). The check is the same loose substring match as
// PocketBase's: a quoted "@collection." in a value is refused too, which errs on the safe side.
func superuserOnlyRefs(filter, sort string) error {
	for _, p := range []struct{ where, s string }{{"filter", filter}, {"sort", sort}} {
		for _, ref := range []string{"@collection.", "@request."} {
			if strings.Contains(p.s, ref) {
				return &schemas.AccessError{Where: p.where, Path: p.s,
					Message: fmt.Sprintf("only superusers can filter or sort by %s references", strings.TrimSuffix(ref, "."))}
			}
		}
	}
	return nil
}

// noTriggers marks a save that must not trigger workflows.
type noTriggersKey struct{}

// withBody is info for a write with the submitted values body (the rule's @request.body).
func withBody(info *core.RequestInfo, body map[string]any) *core.RequestInfo {
	c := *info
	c.Body = maps.Clone(body)
	if c.Method == "" || c.Method == http.MethodGet {
		c.Method = http.MethodPost
	}
	return &c
}
