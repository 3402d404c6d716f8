// Package schemas is Relata's object model — definitions, validation, apply, export, diff,
// seed — and the one way to read records on behalf of a user.
//
// # Reading for a user
//
// Every server-side read made for a user — workflow actions and scripts running as their
// run-as user, template rendering and previews, insights, exports — goes through access.go,
// which uses PocketBase's own rule resolver exactly as the REST list and view APIs do:
//
//   - [Caller] says who reads: a user or superuser ([User], [Request]), a guest ([User] with
//     nil), or the system actor ([System]: a workflow without runAs).
//   - [Caller.CanView] (and [CanView]) applies the collection's view rule.
//   - [Find] lists records of a CRM object with the list rule applied in SQL, the caller's
//     filter and sort resolved without hidden fields (no @collection or @request references,
//     as the REST API), and limit and offset applied after access. [ListQuery] and
//     [ListScope] give Go code the same scope to narrow with its own conditions.
//   - [CheckFilter] is the filter guard: it refuses a filter or sort that reaches a collection
//     the caller may list only in part through a multi-valued path (a multiple relation or a
//     back-relation without a unique index) with an all-match operator (=, !=, <, ~, …).
//     PocketBase builds those as a subquery without the reached collection's list rule, so
//     they would compare values of records the caller cannot see. The any-match forms (?=,
//     ?<, …) apply the rule and pass. It also refuses a path that crosses more than
//     [MaxBackRelations] back-relations (a cost, not an access, bound), and a path ending at
//     a field only some callers may read ([RestrictField]). hooks binds it to record lists
//     (and their counts) and realtime subscriptions.
//   - [CheckLinks]: nobody links a record they cannot view (hooks binds it to REST and batch
//     creates and updates; workflow writes call it for their run-as user).
//   - [Visible] and [Caller.MayReadEmail] say which fields of a record may be shown.
//
// The system actor reads every record of the CRM objects, never system collections
// (relata_*, _superusers, PocketBase's own); its filters may not use hidden fields,
// @collection or @request. What it renders into text is limited like a user's: a user's
// email is printed only where that user made it visible. Go code may still use a hidden
// address as a recipient; templates never print it.
//
//	recs, err := schemas.Find(app, schemas.User(alice), schemas.Query{
//		Object: "deals", Filter: "amount >= {:min}", Params: dbx.Params{"min": 1000}, Limit: 50,
//	})
package schemas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ganigeorgiev/fexpr"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
	"github.com/pocketbase/pocketbase/tools/search"
)

// FindMaxLimit is the most records [Find] returns in one call; page with Offset for more.
const FindMaxLimit = 1000

// ErrForbidden is wrapped by access errors: the caller may not read what they asked for.
var ErrForbidden = errors.New("not allowed")

// AccessError says why a read was refused: Where is "object", "filter" or "sort", Path the
// field path or object name concerned.
type AccessError struct {
	Where   string
	Path    string
	Message string
}

func (e *AccessError) Error() string {
	if e.Path == "" {
		return e.Where + ": " + e.Message
	}
	return fmt.Sprintf("%s %q: %s", e.Where, e.Path, e.Message)
}

func (e *AccessError) Unwrap() error { return ErrForbidden }

// Caller is who a server-side read is made for. The zero value is a guest (no auth).
type Caller struct {
	info   *core.RequestInfo
	system bool
}

// System is the actor of workflows without runAs: see the package notes above.
var System = Caller{system: true}

// User is the caller signed in as auth (a users record or a superuser); nil is a guest.
func User(auth *core.Record) Caller {
	return Caller{info: &core.RequestInfo{
		Auth:    auth,
		Method:  http.MethodGet,
		Context: core.RequestInfoContextDefault,
		Query:   map[string]string{},
		Headers: map[string]string{},
		Body:    map[string]any{},
	}}
}

// Request is the caller of an HTTP request, with its request info as rules see it.
func Request(info *core.RequestInfo) Caller {
	if info == nil {
		return User(nil)
	}
	return Caller{info: info}
}

// IsSystem reports whether c is the system actor.
func (c Caller) IsSystem() bool { return c.system }

// Auth is the caller's auth record (nil for guests and the system).
func (c Caller) Auth() *core.Record {
	if c.info == nil {
		return nil
	}
	return c.info.Auth
}

// IsSuperuser reports whether c is signed in as a PocketBase superuser.
func (c Caller) IsSuperuser() bool { return c.info != nil && c.info.HasSuperuserAuth() }

// RequestInfo is the request info rules are evaluated with (a GET by the caller).
func (c Caller) RequestInfo() *core.RequestInfo {
	if c.info == nil {
		return User(nil).info
	}
	return c.info
}

// unrestricted reports whether no rule applies to c (superusers and the system).
func (c Caller) unrestricted() bool { return c.system || c.IsSuperuser() }

// IsSystemCollection reports whether coll is internal: PocketBase's own (_superusers, …) or
// Relata's (relata_*). Find never reads them and filters never reach them.
func IsSystemCollection(coll *core.Collection) bool {
	return coll.System || strings.HasPrefix(coll.Name, "_") || strings.HasPrefix(coll.Name, "relata_")
}

// CanView reports whether auth (nil: a guest) may view rec under its collection's view rule,
// as GET /api/collections/{c}/records/{id} decides.
func CanView(app core.App, rec *core.Record, auth *core.Record) (bool, error) {
	return User(auth).CanView(app, rec)
}

// CanView reports whether c may view rec. The system may view every record outside the
// system collections; superusers every record.
func (c Caller) CanView(app core.App, rec *core.Record) (bool, error) {
	coll := rec.Collection()
	switch {
	case c.IsSuperuser():
		return true, nil
	case c.system:
		return !IsSystemCollection(coll), nil
	}
	ok, err := app.CanAccessRecord(rec, c.RequestInfo(), coll.ViewRule)
	if err != nil {
		return false, fmt.Errorf("check the view rule of %s: %w", coll.Name, err)
	}
	return ok, nil
}

// ViewableIDs is CanView for many stored records of one collection at once: which of ids c
// may view, in one query with the view rule applied (the system: every id outside the system
// collections; superusers: every id). Batch work on a user's behalf (a campaign rendering
// thousands of emails as its owner) uses it instead of one CanView query per record.
func (c Caller) ViewableIDs(app core.App, collection string, ids []string) (map[string]bool, error) {
	coll, err := app.FindCachedCollectionByNameOrId(collection)
	if err != nil {
		return nil, err
	}
	if c.IsSuperuser() || (c.system && !IsSystemCollection(coll)) {
		out := make(map[string]bool, len(ids))
		for _, id := range ids {
			out[id] = true
		}
		return out, nil
	}
	if c.system || len(ids) == 0 {
		return map[string]bool{}, nil
	}
	in := make([]any, len(ids))
	for i, id := range ids {
		in[i] = id
	}
	return viewableIDs(app, coll.Name, in, c)
}

// MayReadEmail mirrors PocketBase's email visibility for rendering: superusers and the user
// themself always; everyone else — the system actor included — only when the user made their
// email visible.
func (c Caller) MayReadEmail(user *core.Record) bool {
	if !user.Collection().IsAuth() {
		return true
	}
	if c.IsSuperuser() || (c.Auth() != nil && c.Auth().Id == user.Id && c.Auth().Collection().Id == user.Collection().Id) {
		return true
	}
	return user.GetBool(core.FieldNameEmailVisibility)
}

// Query is a list read: like GET /api/collections/{Object}/records?filter=…&sort=… with
// {:name} placeholders in Filter bound from Params.
type Query struct {
	Object string
	Filter string
	Sort   string
	// Limit caps the records returned, after access is applied (0: FindMaxLimit).
	Limit int
	// Offset skips that many of the records the caller may list.
	Offset int
	Params dbx.Params
}

// Find returns the records of q.Object that c may list and that match q.Filter, sorted by
// q.Sort (default: newest first), then limited and offset — in that order, in one query.
func Find(app core.App, c Caller, q Query) ([]*core.Record, error) {
	return FindContext(context.Background(), app, c, q)
}

// FindContext is [Find] with a query that stops when ctx is done (its error then wraps the
// context's cause): a read inside a transaction holds the database's only writer for as long
// as it runs.
func FindContext(ctx context.Context, app core.App, c Caller, q Query) ([]*core.Record, error) {
	query, err := MatchQuery(app, c, q)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 || limit > FindMaxLimit {
		limit = FindMaxLimit
	}
	query.Limit(int64(limit))
	if q.Offset > 0 {
		query.Offset(int64(q.Offset))
	}
	var recs []*core.Record
	if err := query.WithContext(ctx).All(&recs); err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return nil, fmt.Errorf("find %s: stopped: %w", q.Object, errors.Join(cause, err))
		}
		return nil, fmt.Errorf("find %s: %w", q.Object, err)
	}
	return recs, nil
}

// MatchQuery is [Find] without its limit and offset: the query of every record of q.Object
// that c may list and that matches q.Filter, sorted by q.Sort, with all of Find's checks
// (the filter guard, no @collection or @request, no hidden fields). Callers that need every
// match — a segment's members, its count — select from it; q.Limit and q.Offset are ignored.
func MatchQuery(app core.App, c Caller, q Query) (*dbx.SelectQuery, error) {
	coll, err := app.FindCachedCollectionByNameOrId(q.Object)
	if err != nil {
		return nil, &AccessError{Where: "object", Path: q.Object, Message: "no such object"}
	}
	if IsSystemCollection(coll) {
		return nil, &AccessError{Where: "object", Path: coll.Name, Message: "system collections cannot be read this way"}
	}
	if coll.ListRule == nil && !c.IsSuperuser() {
		return nil, &AccessError{Where: "object", Path: coll.Name, Message: "only superusers may list these records"}
	}
	for where, s := range map[string]string{"filter": q.Filter, "sort": q.Sort} {
		if !c.IsSuperuser() && (strings.Contains(s, "@collection.") || strings.Contains(s, "@request.")) {
			return nil, &AccessError{Where: where, Path: s, Message: "@collection and @request references are for superusers only"}
		}
	}
	if err := CheckFilter(app, coll, c, q.Filter, q.Sort); err != nil {
		return nil, err
	}
	if c.system {
		// Resolve once as a guest would, without hidden fields, to refuse what no user could
		// filter by; the query itself then runs without rules.
		check := core.NewRecordFieldResolver(app, coll, User(nil).info, false)
		if q.Filter != "" {
			if _, err := search.FilterData(q.Filter).BuildExpr(check, q.Params); err != nil {
				return nil, &AccessError{Where: "filter", Path: q.Filter, Message: err.Error()}
			}
		}
		for _, s := range search.ParseSortFromString(q.Sort) {
			if s.Name == "" {
				continue
			}
			if _, err := s.BuildExpr(check); err != nil {
				return nil, &AccessError{Where: "sort", Path: s.Name, Message: err.Error()}
			}
		}
	}

	info := c.RequestInfo()
	query := app.RecordQuery(coll)
	resolver := core.NewRecordFieldResolver(app, coll, info, true)
	if !c.unrestricted() && coll.ListRule != nil && *coll.ListRule != "" {
		expr, err := search.FilterData(*coll.ListRule).BuildExpr(resolver)
		if err != nil {
			return nil, fmt.Errorf("list rule of %s: %w", coll.Name, err)
		}
		query.AndWhere(expr)
	}
	// as the REST API: hidden fields are filterable by superusers only (and by the system
	// after the check above)
	resolver.SetAllowHiddenFields(c.unrestricted())
	if strings.TrimSpace(q.Filter) != "" {
		expr, err := search.FilterData(q.Filter).BuildExpr(resolver, q.Params)
		if err != nil {
			return nil, &AccessError{Where: "filter", Path: q.Filter, Message: err.Error()}
		}
		query.AndWhere(expr)
	}
	sorts := search.ParseSortFromString(q.Sort)
	if strings.TrimSpace(q.Sort) == "" {
		sorts = []search.SortField{{Name: "created", Direction: search.SortDesc}, {Name: "id", Direction: search.SortDesc}}
	}
	for _, s := range sorts {
		expr, err := s.BuildExpr(resolver)
		if err != nil {
			return nil, &AccessError{Where: "sort", Path: s.Name, Message: err.Error()}
		}
		query.AndOrderBy(expr)
	}
	if err := resolver.UpdateQuery(query); err != nil {
		return nil, err
	}
	return query, nil
}

// ListScope returns the SQL of the ids of coll's records c may list (with its params), or ""
// when c may list them all. It fails with [ErrForbidden] when c may list none (no rule).
func ListScope(app core.App, coll *core.Collection, c Caller) (string, dbx.Params, error) {
	if c.unrestricted() {
		return "", nil, nil
	}
	if coll.ListRule == nil {
		return "", nil, &AccessError{Where: "object", Path: coll.Name, Message: "only superusers may list these records"}
	}
	if *coll.ListRule == "" {
		return "", nil, nil
	}
	q := app.ConcurrentDB().Select("[[" + coll.Name + ".id]]").From(coll.Name)
	resolver := core.NewRecordFieldResolver(app, coll, c.RequestInfo(), true)
	expr, err := search.FilterData(*coll.ListRule).BuildExpr(resolver)
	if err != nil {
		return "", nil, fmt.Errorf("list rule of %s: %w", coll.Name, err)
	}
	if err := resolver.UpdateQuery(q); err != nil {
		return "", nil, err
	}
	built := q.AndWhere(expr).Build()
	return built.SQL(), built.Params(), nil
}

// restricts reports whether c may list only part of coll's records.
func restricts(app core.App, coll *core.Collection, c Caller) (bool, error) {
	if c.unrestricted() || (coll.ListRule != nil && *coll.ListRule == "") {
		return false, nil
	}
	if coll.ListRule == nil {
		return true, nil
	}
	scope, params, err := ListScope(app, coll, c)
	if err != nil {
		return true, err
	}
	var one int
	err = app.ConcurrentDB().NewQuery("SELECT 1 FROM {{" + coll.Name + "}}" +
		" WHERE [[id]] NOT IN (" + scope + ") LIMIT 1").Bind(params).Row(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return true, fmt.Errorf("check the list rule of %s: %w", coll.Name, err)
	}
	return one == 1, nil
}

var placeholder = regexp.MustCompile(`\{:\w+\}`)

var viaPath = regexp.MustCompile(`^(\w+)_via_(\w+)$`)

// anyOps are the operators PocketBase resolves with the reached collection's list rule.
var anyOps = map[fexpr.SignOp]bool{
	fexpr.SignAnyEq: true, fexpr.SignAnyNeq: true, fexpr.SignAnyLike: true, fexpr.SignAnyNlike: true,
	fexpr.SignAnyLt: true, fexpr.SignAnyLte: true, fexpr.SignAnyGt: true, fexpr.SignAnyGte: true,
}

// CheckFilter is the filter guard (see the package notes). It parses filter with PocketBase's
// own parser and returns an [AccessError] naming the first path that compares, with an
// all-match operator, values of a collection reached through a multi-valued relation that c
// may list only in part; or that sorts by one.
func CheckFilter(app core.App, coll *core.Collection, c Caller, filter, sort string) error {
	if c.unrestricted() {
		return nil
	}
	g := &guard{app: app, base: coll, c: c, restricted: map[string]bool{}}
	if strings.TrimSpace(filter) != "" {
		// {:name} placeholders are values (bound later); the guard looks at paths and operators
		groups, err := fexpr.Parse(placeholder.ReplaceAllString(filter, `""`))
		if err != nil {
			return &AccessError{Where: "filter", Path: filter, Message: err.Error()}
		}
		if err := g.groups(groups); err != nil {
			return err
		}
		if err := g.requireVisible(groups); err != nil {
			return err
		}
	}
	for _, s := range search.ParseSortFromString(sort) {
		reached, multi, backs := g.walk(s.Name)
		if err := tooManyHops("sort", s.Name, backs); err != nil {
			return err
		}
		if err := g.refuseRestricted("sort", s.Name, reached); err != nil {
			return err
		}
		if g.hiddenEmail(s.Name, reached) {
			// PocketBase hides an auth record's email unless it is public, in filters too
			// ("email = x" matches only public ones), but a sort orders by every email:
			// sorting colleagues by email told their order.
			return &AccessError{Where: "sort", Path: s.Name, Message: "emails of users are hidden: sort by another field"}
		}
		if j, err := g.leakyJoin(s.Name); err != nil {
			return err
		} else if j != "" && !multi {
			// a unique back-relation: no all-match subquery, but its rule still leaves out
			// the records that have only hidden ones
			return &AccessError{Where: "sort", Path: s.Name, Message: fmt.Sprintf(
				"sorting through %s would leave out records that have only %s records you may not list; sort by a field of %s itself", j, j, g.base.Name)}
		}
		if !multi {
			continue
		}
		if coll, err := g.firstRestricted(reached); err != nil {
			return err
		} else if coll != "" {
			return &AccessError{Where: "sort", Path: s.Name, Message: fmt.Sprintf(
				"sorting through a multi-valued relation would order by %s records you may not list; sort by a field of %s itself",
				coll, g.base.Name)}
		}
	}
	paths, err := FilterPaths(app, coll, filter, sort)
	if err != nil {
		return nil // refused above: the filter does not parse
	}
	return g.boundJoins(paths)
}

// boundJoins refuses a filter and sort (paths, see [FilterPaths]) that together join more
// than [MaxBackRelations] different back-relations that are not unique. Each path may cross
// one, but PocketBase joins each different one for every record read, so two multiply: 2,000
// contacts of one company listed with company.contacts_via_company.full_name ?~ "" &&
// company.activities_via_company.subject ?~ "" held a core for 40 s and then failed (one
// alone: 20 s, see the package notes' open items in SECURITY.md) — for a user's list and for
// the system's read alike, which rules do not make cheaper. Terms through the same
// back-relation share its join and are not counted again. The refusal names the first path
// that joins one too many, in the filter or the sort (Where), and every join counted.
func (g *guard) boundJoins(paths []FilterPath) error {
	var joins []string
	var first *FilterPath
	for i, p := range paths {
		for _, j := range g.backJoins(p.Path) {
			if !slices.Contains(joins, j) {
				joins = append(joins, j)
				if len(joins) > MaxBackRelations && first == nil {
					first = &paths[i]
				}
			}
		}
	}
	if first == nil {
		return nil
	}
	where := "filter"
	if first.Sort {
		where = "sort"
	}
	return &AccessError{Where: where, Path: first.Path, Message: fmt.Sprintf(
		"the filter and sort join %d different back-relations (%s); at most %d may be joined in one read, as each multiplies the records compared for every record read",
		len(joins), strings.Join(joins, ", "), MaxBackRelations)}
}

// backJoins returns the prefixes of path through each back-relation hop that is not unique
// ("company.deals_via_company" of "company.deals_via_company.amount"): the joins PocketBase
// adds for it that fan out.
func (g *guard) backJoins(path string) []string {
	var out []string
	for _, h := range g.hops(path) {
		if h.back && h.fans {
			out = append(out, h.prefix)
		}
	}
	return out
}

// FilterPath is one field path a filter or sort names, with what it joins.
type FilterPath struct {
	// Path is the path as written: "company.name", "deals_via_company.amount", "owner.email:lower".
	Path string
	// Reached are the collections other than the base that the path joins, in order; an
	// @collection path reaches the collection it names, @request, @random and @rowid nothing.
	Reached []string
	// UserEmail tells that the path ends at the email of an auth collection (users), which
	// users may keep hidden: "email" on users, "owner.email", "owner.email:lower".
	UserEmail bool
	// Sort tells that the path is a sort key, not a path of the filter.
	Sort bool
	// BackRelations is how many back-relations that are not unique the path crosses (see
	// [MaxBackRelations]).
	BackRelations int
}

// FilterPaths returns the field paths of filter and sort on coll, in the order named. A
// filter that does not parse is an error.
func FilterPaths(app core.App, coll *core.Collection, filter, sort string) ([]FilterPath, error) {
	var paths []string
	if strings.TrimSpace(filter) != "" {
		groups, err := fexpr.Parse(placeholder.ReplaceAllString(filter, `""`))
		if err != nil {
			return nil, &AccessError{Where: "filter", Path: filter, Message: err.Error()}
		}
		var collect func([]fexpr.ExprGroup)
		collect = func(groups []fexpr.ExprGroup) {
			for _, grp := range groups {
				switch item := grp.Item.(type) {
				case fexpr.Expr:
					paths = append(paths, identifiers(item.Left, item.Right)...)
				case []fexpr.ExprGroup:
					collect(item)
				}
			}
		}
		collect(groups)
	}
	inFilter := len(paths)
	for _, s := range search.ParseSortFromString(sort) {
		paths = append(paths, s.Name)
	}
	g := &guard{app: app, base: coll}
	out := make([]FilterPath, 0, len(paths))
	for i, p := range paths {
		fp := FilterPath{Path: p, Sort: i >= inFilter}
		if rest, ok := strings.CutPrefix(p, "@collection."); ok {
			name, _, _ := strings.Cut(rest, ".")
			name, _, _ = strings.Cut(name, ":") // @collection.deals:alias
			fp.Reached = []string{name}
		} else {
			reached, _, backs := g.walk(p)
			fp.BackRelations = backs
			for _, c := range reached {
				fp.Reached = append(fp.Reached, c.Name)
			}
			fp.UserEmail = !strings.HasPrefix(p, "@") && g.hiddenEmail(p, reached)
		}
		out = append(out, fp)
	}
	return out, nil
}

// CheckSystemFilter is the guard of a filter and sort that the system actor runs for someone
// who is not a superuser — a workflow's read for the manager who wrote it, a web form's picker
// for anyone who loads the page. The system reads without rules and with hidden fields, so
// such a filter may reach only the CRM objects (isObject) and users, never compare users'
// emails ("owner.email ~ 'a%'" told hidden addresses one letter at a time,
// "owner.api_tokens_via_user.hint ?~ …" records only their owner may list), cross at most
// [MaxBackRelations] back-relations in a path, and join at most [MaxBackRelations] different
// ones in all, filter and sort together (as [CheckFilter]: two multiply each other, and a
// workflow's read runs in a transaction that holds the database writer). reader names who
// reads, in the refusal ("workflows", "a picker").
func CheckSystemFilter(app core.App, coll *core.Collection, filter, sort string, isObject func(string) bool, reader string) error {
	paths, err := FilterPaths(app, coll, filter, sort)
	if err != nil {
		return nil // the query that runs it answers a filter that does not parse
	}
	for _, p := range paths {
		if strings.HasPrefix(p.Path, "@") {
			continue // @request and @collection: Find and MatchQuery refuse them for everyone but superusers
		}
		where := "filter"
		if p.Sort {
			where = "sort"
		}
		for _, name := range p.Reached {
			if name != UsersCollection && !isObject(name) {
				return &AccessError{Where: where, Path: p.Path, Message: reader + " read the CRM objects and their users only, not " + name}
			}
		}
		if p.UserEmail {
			return &AccessError{Where: where, Path: p.Path, Message: "emails of users are hidden: compare the user (owner = {:id}) or another of their fields"}
		}
		if err := tooManyHops(where, p.Path, p.BackRelations); err != nil {
			return err
		}
	}
	g := &guard{app: app, base: coll}
	return g.boundJoins(paths)
}

// Reached returns the names of the collections other than coll that the field paths of
// filter and sort join — "company.name" reaches companies, "deals_via_company.amount" deals —
// in the order first named (see [FilterPaths]). A filter that does not parse is an error.
func Reached(app core.App, coll *core.Collection, filter, sort string) ([]string, error) {
	paths, err := FilterPaths(app, coll, filter, sort)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range paths {
		for _, name := range p.Reached {
			if name != coll.Name && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

type guard struct {
	app        core.App
	base       *core.Collection
	c          Caller
	restricted map[string]bool
}

func (g *guard) groups(groups []fexpr.ExprGroup) error {
	for _, grp := range groups {
		switch item := grp.Item.(type) {
		case fexpr.Expr:
			if err := g.expr(item); err != nil {
				return err
			}
		case []fexpr.ExprGroup:
			if err := g.groups(item); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *guard) expr(e fexpr.Expr) error {
	for _, ident := range identifiers(e.Left, e.Right) {
		reached, multi, backs := g.walk(ident)
		if err := tooManyHops("filter", ident, backs); err != nil {
			return err
		}
		if err := g.refuseRestricted("filter", ident, reached); err != nil {
			return err
		}
		if !multi || anyOps[e.Op] {
			continue
		}
		if g.hiddenEmail(ident, reached) {
			// PocketBase checks email visibility on the joined row only, not in the
			// all-match subquery: "contacts.owner.email !~ 'c%'" compared hidden addresses
			// (of every caller who may list the records in between, managers too)
			return &AccessError{Where: "filter", Path: ident, Message: fmt.Sprintf(
				"emails of users are hidden, and %q compares every email reached through a multi-valued relation, hidden ones too; use the any-match form %q instead",
				string(e.Op), "?"+string(e.Op))}
		}
		coll, err := g.firstRestricted(reached)
		if err != nil {
			return err
		}
		if coll != "" {
			return &AccessError{Where: "filter", Path: ident, Message: fmt.Sprintf(
				"%q compares every %s record reached through a multi-valued relation, including those you may not list; use the any-match form %q instead",
				string(e.Op), coll, "?"+string(e.Op))}
		}
	}
	return nil
}

// A back-relation into a collection the caller may list only in part is a hidden-existence
// oracle even with the any-match operators: PocketBase joins every record pointing back and
// applies the reached collection's list rule to the joined rows at the top of the query, so
// a record whose only back-records are ones the caller may not list is always left out,
// while one with none at all matches whenever the filter is true of an empty row
// ("deals_via_company.amount ?!= -1" listed the companies without deals and left out those
// with only other reps' deals). requireVisible refuses a filter unless every such back-relation
// is needed by it: every match needs a row of it that the caller may list, so the answer is
// the same whether or not hidden records point back.
func (g *guard) requireVisible(groups []fexpr.ExprGroup) error {
	var leaky []string
	var firstPath []string
	var collect func([]fexpr.ExprGroup) error
	collect = func(groups []fexpr.ExprGroup) error {
		for _, grp := range groups {
			switch item := grp.Item.(type) {
			case fexpr.Expr:
				for _, ident := range identifiers(item.Left, item.Right) {
					j, err := g.leakyJoin(ident)
					if err != nil {
						return err
					}
					if j != "" && !slices.Contains(leaky, j) {
						leaky = append(leaky, j)
						firstPath = append(firstPath, ident)
					}
				}
			case []fexpr.ExprGroup:
				if err := collect(item); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := collect(groups); err != nil {
		return err
	}
	if len(leaky) == 0 {
		return nil
	}
	needed, err := g.needed(groups)
	if err != nil {
		return err
	}
	for i, j := range leaky {
		if !needed[j] {
			return &AccessError{Where: "filter", Path: firstPath[i], Message: fmt.Sprintf(
				"%s reaches records you may not list, and a record that has only those would be left out where one with none matches; make every match need one you may list: add && %s.id ?!= \"\" (or another condition on %s that an empty row fails)",
				j, j, j)}
		}
	}
	return nil
}

// needed returns the leaky joins (leakyJoin) that every match of groups needs a row of: the
// intersection over the disjuncts (PocketBase joins the groups left to right, && before ||)
// of the joins each conjunct needs.
func (g *guard) needed(groups []fexpr.ExprGroup) (map[string]bool, error) {
	var out map[string]bool
	cur := map[string]bool{}
	flush := func() {
		if out == nil {
			out = cur
			return
		}
		for k := range out {
			if !cur[k] {
				delete(out, k)
			}
		}
	}
	for i, grp := range groups {
		if i > 0 && grp.Join == fexpr.JoinOr {
			flush()
			cur = map[string]bool{}
		}
		switch item := grp.Item.(type) {
		case fexpr.Expr:
			for _, side := range [][2]fexpr.Token{{item.Left, item.Right}, {item.Right, item.Left}} {
				if side[0].Type != fexpr.TokenIdentifier || !falseOnEmptyRow(item.Op, side[1]) {
					continue
				}
				j, err := g.leakyJoin(side[0].Literal)
				if err != nil {
					return nil, err
				}
				if j != "" {
					cur[j] = true
				}
			}
		case []fexpr.ExprGroup:
			sub, err := g.needed(item)
			if err != nil {
				return nil, err
			}
			for k := range sub {
				cur[k] = true
			}
		}
	}
	flush()
	return out, nil
}

// falseOnEmptyRow reports whether a comparison of a joined field with other, by op, is false
// when the join found no row (the field is NULL), as PocketBase builds it: <, <=, >, >=, ~ and
// !~ compare NULL (NULL); = with a non-empty literal compares directly; != "" is
// "IS NOT ” AND IS NOT NULL". Everything else may be true of an empty row.
func falseOnEmptyRow(op fexpr.SignOp, other fexpr.Token) bool {
	switch op {
	case fexpr.SignLt, fexpr.SignLte, fexpr.SignGt, fexpr.SignGte, fexpr.SignLike, fexpr.SignNlike,
		fexpr.SignAnyLt, fexpr.SignAnyLte, fexpr.SignAnyGt, fexpr.SignAnyGte, fexpr.SignAnyLike, fexpr.SignAnyNlike:
		return true
	case fexpr.SignEq, fexpr.SignAnyEq:
		switch other.Type {
		case fexpr.TokenText:
			return other.Literal != ""
		case fexpr.TokenNumber:
			f, err := strconv.ParseFloat(other.Literal, 64)
			return err == nil && f != 0
		}
	case fexpr.SignNeq, fexpr.SignAnyNeq:
		return other.Type == fexpr.TokenText && other.Literal == ""
	}
	return false
}

// leakyJoin returns the prefix of path through its first back-relation hop (…_via_…, unique
// or not) into a collection the caller may list only in part — "company.deals_via_company" of
// "company.deals_via_company.amount" — or "". Such a join is what requireVisible guards.
// Forward relations are not: the caller sees the ids they hold.
func (g *guard) leakyJoin(path string) (string, error) {
	for _, h := range g.hops(path) {
		if !h.back {
			continue
		}
		name, err := g.firstRestricted([]*core.Collection{h.coll})
		if err != nil {
			return "", err
		}
		if name != "" {
			return h.prefix, nil
		}
	}
	return "", nil
}

// MaxBackRelations is how many back-relations (deals_via_company: the records that point
// back, as many as the data holds) one path of a filter or sort may cross, for callers other
// than superusers and the system. Each is a subquery per row of the one before it: with 600
// contacts in a company, company.contacts_via_company.company.contacts_via_company.full_name
// compared 600 × 600 rows for each of 600 contacts — 21 s of a core for one list request of a
// sales rep, 48 s for a manager's. One ("deals_via_contact.stage ?= 'won'") is what CRM
// filters need. A multiple relation field is not counted: it holds a bounded list of ids.
const MaxBackRelations = 1

// tooManyHops refuses a path that crosses more than MaxBackRelations back-relations.
func tooManyHops(where, path string, backs int) error {
	if backs <= MaxBackRelations {
		return nil
	}
	return &AccessError{Where: where, Path: path, Message: fmt.Sprintf(
		"the path crosses %d back-relations (…_via_…); at most %d may be crossed in one path, as each multiplies the records compared",
		backs, MaxBackRelations)}
}

// identifiers returns the field paths among tokens, function arguments included.
func identifiers(tokens ...fexpr.Token) []string {
	var out []string
	for _, t := range tokens {
		switch t.Type {
		case fexpr.TokenIdentifier:
			out = append(out, t.Literal)
		case fexpr.TokenFunction:
			if args, ok := t.Meta.([]fexpr.Token); ok {
				out = append(out, identifiers(args...)...)
			}
		}
	}
	return out
}

// hop is one relation a field path crosses.
type hop struct {
	prefix string           // the path up to and with this hop: "company.deals_via_company"
	coll   *core.Collection // the collection it reaches
	back   bool             // a back-relation (…_via_…)
	// fans: many records per record — a multiple relation, or a back-relation without a
	// unique index (PocketBase builds an all-match subquery, and a join that multiplies rows).
	fans bool
}

// hops follows a field path from the base collection and returns the relations it crosses,
// as far as it resolves. @request and @collection paths are not walked (non-superusers cannot
// use them).
func (g *guard) hops(path string) []hop {
	if strings.HasPrefix(path, "@") {
		return nil
	}
	var out []hop
	props := strings.Split(path, ".")
	coll := g.base
	for i, prop := range props[:len(props)-1] {
		prefix := strings.Join(props[:i+1], ".")
		if f := coll.Fields.GetByName(prop); f != nil {
			rf, ok := f.(*core.RelationField)
			if !ok {
				return out // json paths stay inside coll
			}
			target, err := g.app.FindCachedCollectionByNameOrId(rf.CollectionId)
			if err != nil {
				return out
			}
			coll = target
			out = append(out, hop{prefix: prefix, coll: target, fans: rf.IsMultiple()})
			continue
		}
		m := viaPath.FindStringSubmatch(prop)
		if m == nil {
			return out
		}
		back, err := g.app.FindCachedCollectionByNameOrId(m[1])
		if err != nil {
			return out
		}
		rf, ok := back.Fields.GetByName(m[2]).(*core.RelationField)
		if !ok || rf.CollectionId != coll.Id {
			return out
		}
		_, unique := dbutils.FindSingleColumnUniqueIndex(back.Indexes, rf.Name)
		coll = back
		out = append(out, hop{prefix: prefix, coll: back, back: true, fans: rf.IsMultiple() || !unique})
	}
	return out
}

// walk follows a field path from the base collection and returns the collections it joins,
// whether any hop is multi-valued (so PocketBase would build an all-match subquery), and how
// many hops are back-relations that are not unique (each a subquery over however many
// records point back). A ":each" on the last field after single hops builds the all-match
// subquery too, but over the one record the main query already joins with its rule: nothing
// more is read.
func (g *guard) walk(path string) (reached []*core.Collection, multi bool, backs int) {
	for _, h := range g.hops(path) {
		reached = append(reached, h.coll)
		multi = multi || h.fans
		if h.back && h.fans {
			backs++
		}
	}
	return reached, multi, backs
}

// hiddenEmail reports whether path, whose relation hops walk reached, ends at the email of an
// auth collection (users): "email", "owner.email", "owner.email:lower".
func (g *guard) hiddenEmail(path string, reached []*core.Collection) bool {
	props := strings.Split(path, ".")
	last, _, _ := strings.Cut(props[len(props)-1], ":")
	if last != core.FieldNameEmail {
		return false
	}
	coll := g.base
	if len(props) > 1 {
		if len(reached) != len(props)-1 {
			return false // the path does not resolve: PocketBase refuses it
		}
		coll = reached[len(reached)-1]
	}
	return coll.IsAuth()
}

// firstRestricted returns the name of the first collection in colls that the caller may list
// only in part, or "".
func (g *guard) firstRestricted(colls []*core.Collection) (string, error) {
	for _, coll := range colls {
		r, seen := g.restricted[coll.Id]
		if !seen {
			var err error
			if r, err = restricts(g.app, coll, g.c); err != nil {
				return "", err
			}
			g.restricted[coll.Id] = r
		}
		if r {
			return coll.Name, nil
		}
	}
	return "", nil
}

// CheckLinks refuses a record whose relations newly point at records c may not view: nobody
// links what they cannot see (a link would let them filter on the linked record's fields).
// Ids already set before this change (rec.Original()) are not checked again. A missing id
// gets the same answer as an invisible one, so the check tells nothing about existence. It
// costs one query per relation field with new ids (none for superusers and the system).
func CheckLinks(app core.App, rec *core.Record, c Caller) error {
	if c.unrestricted() {
		return nil
	}
	var orig *core.Record
	if !rec.IsNew() {
		orig = rec.Original()
	}
	for _, f := range rec.Collection().Fields {
		rf, ok := f.(*core.RelationField)
		if !ok {
			continue
		}
		var old []string
		if orig != nil {
			old = orig.GetStringSlice(rf.Name)
		}
		var added []any
		for _, id := range rec.GetStringSlice(rf.Name) {
			if !slices.Contains(old, id) {
				added = append(added, id)
			}
		}
		if len(added) == 0 {
			continue
		}
		visible, err := viewableIDs(app, rf.CollectionId, added, c)
		if err != nil {
			return err
		}
		for _, id := range added {
			if !visible[id.(string)] {
				return &AccessError{Where: "field", Path: rf.Name, Message: fmt.Sprintf(
					"cannot link %q: there is no record with this id that you may view", id)}
			}
		}
	}
	return nil
}

// viewableIDs returns which of ids are records of the collection c may view, in one query
// with the view rule applied as GET /api/collections/{c}/records/{id} applies it.
func viewableIDs(app core.App, collection string, ids []any, c Caller) (map[string]bool, error) {
	out := map[string]bool{}
	coll, err := app.FindCachedCollectionByNameOrId(collection)
	if err != nil || coll.ViewRule == nil {
		return out, nil
	}
	// A rule about the caller only ("signed in", "a manager") says the same for every record:
	// when it lets the caller view the collection, every id is viewable (whether it exists is
	// then PocketBase's own relation check, which reveals nothing they could not list).
	key, cacheable := callerRuleKey(coll, c)
	if cacheable {
		if v, ok := callerRules.Load(key); ok && v.(bool) {
			for _, id := range ids {
				out[id.(string)] = true
			}
			return out, nil
		}
	}
	q := app.ConcurrentDB().Select("[[" + coll.Name + ".id]]").From(coll.Name).AndWhere(dbx.In(coll.Name+".id", ids...))
	if *coll.ViewRule != "" {
		resolver := core.NewRecordFieldResolver(app, coll, c.RequestInfo(), true)
		expr, err := search.FilterData(*coll.ViewRule).BuildExpr(resolver)
		if err != nil {
			return nil, fmt.Errorf("view rule of %s: %w", coll.Name, err)
		}
		if err := resolver.UpdateQuery(q); err != nil {
			return nil, err
		}
		q.AndWhere(expr)
	}
	var found []string
	if err := q.Column(&found); err != nil {
		return nil, fmt.Errorf("check links to %s: %w", coll.Name, err)
	}
	for _, id := range found {
		out[id] = true
	}
	if cacheable && len(found) > 0 {
		rememberCallerRule(key)
	}
	return out, nil
}

// callerRules remembers the view rules about the caller only that let a caller view a
// collection, keyed by callerRuleKey; bounded by clearing it when it grows large.
var (
	callerRules     sync.Map
	callerRulesSize atomic.Int64
)

func rememberCallerRule(key string) {
	if callerRulesSize.Add(1) > 10000 {
		callerRules.Clear()
		callerRulesSize.Store(0)
	}
	callerRules.Store(key, true)
}

// callerRuleKey is the cache key of coll's view rule for c, and whether the rule refers to
// nothing but the caller's own auth record (@request.auth.*) and literals, so that its outcome
// holds for every record of coll until the caller's record or the rule changes.
func callerRuleKey(coll *core.Collection, c Caller) (string, bool) {
	auth := c.Auth()
	if auth == nil || coll.ViewRule == nil || *coll.ViewRule == "" {
		return "", false
	}
	if !ruleAboutCaller(*coll.ViewRule) {
		return "", false
	}
	return strings.Join([]string{auth.Collection().Id, auth.Id, auth.GetString(core.FieldNameTokenKey), auth.GetDateTime("updated").String(),
		coll.Id, *coll.ViewRule}, "\x00"), true
}

// aboutCaller remembers, per rule text, whether a rule is about the caller only: parsing the
// rule cost more than the rest of a link check. Rules are few (one per collection and
// action); bounded anyway by clearing it when it grows large.
var (
	aboutCaller     sync.Map // rule -> bool
	aboutCallerSize atomic.Int64
)

// ruleAboutCaller reports whether rule parses and refers to the caller only ([onlyAboutCaller]).
func ruleAboutCaller(rule string) bool {
	if v, ok := aboutCaller.Load(rule); ok {
		return v.(bool)
	}
	groups, err := fexpr.Parse(rule)
	ok := err == nil && onlyAboutCaller(groups)
	if aboutCallerSize.Add(1) > 1000 {
		aboutCaller.Clear()
		aboutCallerSize.Store(0)
	}
	aboutCaller.Store(rule, ok)
	return ok
}

// onlyAboutCaller reports whether every identifier of groups is an @request.auth path.
func onlyAboutCaller(groups []fexpr.ExprGroup) bool {
	for _, g := range groups {
		switch item := g.Item.(type) {
		case []fexpr.ExprGroup:
			if !onlyAboutCaller(item) {
				return false
			}
		case fexpr.Expr:
			for _, id := range identifiers(item.Left, item.Right) {
				if !strings.HasPrefix(id, "@request.auth.") {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// Visible returns the fields of rec that c may read, as the REST API would show them: no
// hidden fields (unless c is a superuser), and an auth record's email only where
// [Caller.MayReadEmail] allows.
func Visible(rec *core.Record, c Caller) map[string]any {
	out := rec.FieldsData()
	if c.IsSuperuser() {
		return out
	}
	for _, f := range rec.Collection().Fields {
		if f.GetHidden() {
			delete(out, f.GetName())
		}
	}
	if rec.Collection().IsAuth() && !c.MayReadEmail(rec) {
		out[core.FieldNameEmail] = ""
	}
	return out
}

// ListQuery returns a record query of coll with c's list rule applied, for Go code to narrow
// with its own conditions (never user input: use [Find] for filters). Limits set on it apply
// after access. It fails with [ErrForbidden] when c may list none of coll.
func ListQuery(app core.App, coll *core.Collection, c Caller) (*dbx.SelectQuery, error) {
	q := app.RecordQuery(coll)
	if c.unrestricted() {
		return q, nil
	}
	if coll.ListRule == nil {
		return nil, &AccessError{Where: "object", Path: coll.Name, Message: "only superusers may list these records"}
	}
	if *coll.ListRule == "" {
		return q, nil
	}
	resolver := core.NewRecordFieldResolver(app, coll, c.RequestInfo(), true)
	expr, err := search.FilterData(*coll.ListRule).BuildExpr(resolver)
	if err != nil {
		return nil, fmt.Errorf("list rule of %s: %w", coll.Name, err)
	}
	if err := resolver.UpdateQuery(q); err != nil {
		return nil, err
	}
	return q.AndWhere(expr), nil
}
