package insights

import (
	"errors"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// ErrForbidden is returned when the caller may not list the records of an object at all.
var ErrForbidden = errors.New("insights: you may not read these records")

// Caller returns the request info of a CRM user (or superuser) as insights use it: the user's
// auth record, as if they listed records through the REST API ([schemas.User]).
func Caller(auth *core.Record) *core.RequestInfo {
	return schemas.User(auth).RequestInfo()
}

// insightsCaller is the schemas caller of info; insights serve CRM users and superusers only.
func insightsCaller(info *core.RequestInfo) (schemas.Caller, error) {
	c := schemas.Request(info)
	if c.IsSuperuser() {
		return c, nil
	}
	if info.Auth == nil || info.Auth.Collection().Name != schemas.UsersCollection {
		return c, ErrForbidden
	}
	return c, nil
}

// scope is the set of records of one collection that a caller may list.
type scope struct {
	sql    string // "" when every record is in scope; else a query of their ids
	params dbx.Params
	// pipe, when set, is a query of the ids of the records in the report's pipeline (objects
	// whose records each pick a pipeline).
	pipe string
}

// where returns the condition "column is the id of a record in scope" for raw SQL, or "1=1".
func (s scope) where(column string) string {
	cond := "1=1"
	if s.sql != "" {
		cond = column + " IN (" + s.sql + ")"
	}
	if s.pipe != "" {
		cond += " AND " + column + " IN (" + s.pipe + ")"
	}
	return cond
}

// scopeOf applies the collection's list rule for info through [schemas.ListScope].
func (s *Service) scopeOf(coll *core.Collection, info *core.RequestInfo) (scope, error) {
	c, err := insightsCaller(info)
	if err != nil {
		return scope{}, err
	}
	sql, params, err := schemas.ListScope(s.app, coll, c)
	if errors.Is(err, schemas.ErrForbidden) {
		return scope{}, ErrForbidden
	}
	if err != nil {
		return scope{}, err
	}
	return scope{sql: sql, params: params}, nil
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

// listScoped returns records of coll in the caller's scope that also match cond, in order,
// limited after access ([schemas.ListQuery]).
func (s *Service) listScoped(coll *core.Collection, info *core.RequestInfo, cond dbx.Expression, order string, limit int) ([]*core.Record, error) {
	c, err := insightsCaller(info)
	if err != nil {
		return nil, err
	}
	q, err := schemas.ListQuery(s.app, coll, c)
	if errors.Is(err, schemas.ErrForbidden) {
		return nil, ErrForbidden
	}
	if err != nil {
		return nil, err
	}
	var recs []*core.Record
	if err := q.AndWhere(cond).OrderBy(order).Limit(int64(limit)).All(&recs); err != nil {
		return nil, err
	}
	return recs, nil
}
