package insights

import (
	"errors"
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/search"

	"github.com/relata/relata/schemas"
)

// ErrForbidden is returned when the caller may not list the records of an object at all.
var ErrForbidden = errors.New("insights: you may not read these records")

// Caller returns the request info of a CRM user (or superuser) as insights use it: the user's
// auth record, as if they listed records through the REST API.
func Caller(auth *core.Record) *core.RequestInfo {
	return &core.RequestInfo{
		Auth:    auth,
		Method:  http.MethodGet,
		Context: core.RequestInfoContextDefault,
		Query:   map[string]string{},
		Headers: map[string]string{},
		Body:    map[string]any{},
	}
}

// scope is the set of records of one collection that a caller may list.
type scope struct {
	sql    string // "" when every record is in scope; else a query of their ids
	params dbx.Params
}

// where returns the condition "column is the id of a record in scope" for raw SQL, or "1=1".
func (s scope) where(column string) string {
	if s.sql == "" {
		return "1=1"
	}
	return column + " IN (" + s.sql + ")"
}

// scopeOf applies the collection's list rule for info, with PocketBase's own rule resolver,
// exactly as the REST list API does.
func (s *Service) scopeOf(coll *core.Collection, info *core.RequestInfo) (scope, error) {
	if info.HasSuperuserAuth() {
		return scope{}, nil
	}
	if info.Auth == nil || info.Auth.Collection().Name != schemas.UsersCollection || coll.ListRule == nil {
		return scope{}, ErrForbidden
	}
	if *coll.ListRule == "" {
		return scope{}, nil
	}
	q := s.app.DB().Select(coll.Name + ".id").From(coll.Name)
	resolver := core.NewRecordFieldResolver(s.app, coll, info, true)
	expr, err := search.FilterData(*coll.ListRule).BuildExpr(resolver)
	if err != nil {
		return scope{}, err
	}
	if err := resolver.UpdateQuery(q); err != nil {
		return scope{}, err
	}
	built := q.AndWhere(expr).Build()
	return scope{sql: built.SQL(), params: built.Params()}, nil
}

// query runs raw SQL whose {:name} placeholders are bound from params and the scope's own.
func (s *Service) query(sql string, sc scope, params dbx.Params) *dbx.Query {
	all := dbx.Params{}
	for k, v := range sc.params {
		all[k] = v
	}
	for k, v := range params {
		all[k] = v
	}
	return s.app.DB().NewQuery(sql).Bind(all)
}

// listScoped returns records of coll in the caller's scope that also match cond, newest first.
func (s *Service) listScoped(coll *core.Collection, info *core.RequestInfo, cond dbx.Expression, order string, limit int) ([]*core.Record, error) {
	q := s.app.RecordQuery(coll).AndWhere(cond).OrderBy(order).Limit(int64(limit))
	if !info.HasSuperuserAuth() {
		if info.Auth == nil || info.Auth.Collection().Name != schemas.UsersCollection || coll.ListRule == nil {
			return nil, ErrForbidden
		}
		if *coll.ListRule != "" {
			resolver := core.NewRecordFieldResolver(s.app, coll, info, true)
			expr, err := search.FilterData(*coll.ListRule).BuildExpr(resolver)
			if err != nil {
				return nil, err
			}
			if err := resolver.UpdateQuery(q); err != nil {
				return nil, err
			}
			q.AndWhere(expr).Distinct(true)
		}
	}
	var recs []*core.Record
	if err := q.All(&recs); err != nil {
		return nil, err
	}
	return recs, nil
}
