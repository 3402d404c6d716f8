package segments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Collection names and the object segments are made of.
const (
	Collection        = "segments"
	MembersCollection = "segment_members"
	// Object is the CRM object whose records are segment members.
	Object = "contacts"
)

// Kinds of segment.
const (
	Dynamic = "dynamic"
	Static  = "static"
)

// Sources of a membership row.
const (
	SourceManual    = "manual"
	SourceImport    = "import"
	SourceEvaluated = "evaluated"
)

// ErrInvalid is wrapped by errors about a segment that cannot be evaluated as written.
var ErrInvalid = errors.New("invalid segment")

// members returns the query of seg's members c may list, ordered by id.
func members(app core.App, c schemas.Caller, seg *core.Record) (*dbx.SelectQuery, error) {
	switch seg.GetString("kind") {
	case Dynamic:
		q, err := schemas.MatchQuery(app, c, schemas.Query{Object: Object, Filter: seg.GetString("filter"), Sort: "id"})
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrInvalid, seg.GetString("name"), err)
		}
		conds, err := engagementOf(seg)
		if err != nil {
			return nil, err
		}
		return withEngagement(q, conds, time.Now()), nil
	case Static:
		coll, err := app.FindCachedCollectionByNameOrId(Object)
		if err != nil {
			return nil, err
		}
		q, err := schemas.ListQuery(app, coll, c)
		if err != nil {
			return nil, err
		}
		return q.AndWhere(dbx.NewExp("{{"+Object+"}}.[[id]] IN (SELECT [[record_id]] FROM {{"+MembersCollection+
			"}} WHERE [[segment]] = {:segment} AND [[source]] != {:evaluated})",
			dbx.Params{"segment": seg.Id, "evaluated": SourceEvaluated})).
			OrderBy("{{" + Object + "}}.[[id]]"), nil
	default:
		return nil, fmt.Errorf("%w %q: unknown kind %q", ErrInvalid, seg.GetString("name"), seg.GetString("kind"))
	}
}

// MaxFilterLength is the longest filter a segment may have (the segments.filter field's
// maximum), also for the builder's live count.
const MaxFilterLength = 10000

// Check reports whether a dynamic segment's filter can be evaluated for c: it parses, names
// fields c may filter by, and passes the filter guard. The error says where and why.
func Check(app core.App, c schemas.Caller, filter string) error {
	return check(context.Background(), app, c, filter)
}

// check is Check within ctx: the filter is counted once, so one that the database cannot run,
// or not before ctx ends, is refused with the reason.
func check(ctx context.Context, app core.App, c schemas.Caller, filter string) error {
	if len(filter) > MaxFilterLength {
		return fmt.Errorf("%w: filter: %d characters, at most %d", ErrInvalid, len(filter), MaxFilterLength)
	}
	q, err := schemas.MatchQuery(app, c, schemas.Query{Object: Object, Filter: filter})
	if err != nil {
		return err
	}
	_, err = count(ctx, app, q)
	return err
}

// CountFilter counts the contacts matching filter that c may list (the builder's live count).
func CountFilter(app core.App, c schemas.Caller, filter string) (int, error) {
	return CountDefinition(app, c, filter, nil)
}

// CountDefinition counts the contacts matching filter and every engagement condition that c
// may list: the builder's live count of a dynamic segment not saved yet.
func CountDefinition(app core.App, c schemas.Caller, filter string, conds []Engagement) (int, error) {
	return countDefinition(context.Background(), app, c, filter, conds)
}

func countDefinition(ctx context.Context, app core.App, c schemas.Caller, filter string, conds []Engagement) (int, error) {
	if len(filter) > MaxFilterLength {
		return 0, fmt.Errorf("%w: filter: %d characters, at most %d", ErrInvalid, len(filter), MaxFilterLength)
	}
	if err := CheckEngagement(app, c, conds); err != nil {
		return 0, err
	}
	q, err := schemas.MatchQuery(app, c, schemas.Query{Object: Object, Filter: filter})
	if err != nil {
		return 0, err
	}
	return count(ctx, app, withEngagement(q, conds, time.Now()))
}

// Count counts seg's members that c may list.
func Count(app core.App, c schemas.Caller, seg *core.Record) (int, error) {
	return countSegment(context.Background(), app, c, seg)
}

func countSegment(ctx context.Context, app core.App, c schemas.Caller, seg *core.Record) (int, error) {
	q, err := members(app, c, seg)
	if err != nil {
		return 0, err
	}
	return count(ctx, app, q)
}

// count counts the contacts of q within ctx. The query is a user's filter: when the database
// cannot run it (nested too deeply, a pattern too long) or ctx ends first, the error wraps
// ErrInvalid and says so, for a 400 on the filter instead of a 500 or a core held for minutes.
func count(ctx context.Context, app core.App, q *dbx.SelectQuery) (int, error) {
	built := q.Select("{{" + Object + "}}.[[id]]").OrderBy().Build()
	var n int
	err := app.ConcurrentDB().NewQuery("SELECT count(*) FROM (" + built.SQL() + ")").Bind(built.Params()).WithContext(ctx).Row(&n)
	switch {
	case err == nil:
		return n, nil
	case ctx.Err() != nil:
		limit := ""
		if d, ok := ctx.Value(timeoutKey{}).(time.Duration); ok {
			limit = " longer than " + d.String()
		}
		return 0, fmt.Errorf("%w: filter: counting it took%s; use fewer relations in it", ErrInvalid, limit)
	default:
		// the driver's reason, without the SQL the error carries
		for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
			err = u
		}
		return 0, fmt.Errorf("%w: filter: the database cannot evaluate it: %v", ErrInvalid, err)
	}
}

// timeoutKey holds, in a context made by withTimeout, the limit it was made with.
type timeoutKey struct{}

// withTimeout is context.WithTimeout that remembers d for the error of count.
func withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return context.WithTimeout(context.WithValue(parent, timeoutKey{}, d), d)
}

// Each calls fn with seg's members that c may list, batch at a time, in id order (keyset
// paging: the memory used does not grow with the segment).
func Each(app core.App, c schemas.Caller, seg *core.Record, batch int, fn func([]*core.Record) error) error {
	if batch <= 0 {
		batch = 500
	}
	last := ""
	for {
		recs, err := Page(app, c, seg, last, batch)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		if err := fn(recs); err != nil {
			return err
		}
		if len(recs) < batch {
			return nil
		}
		last = recs[len(recs)-1].Id
	}
}

// Page returns up to batch of seg's members that c may list whose id sorts after after ("":
// from the start), in id order: one page of [Each], for callers that keep the cursor between
// calls (a campaign resolving its audience a batch per step while it sends).
func Page(app core.App, c schemas.Caller, seg *core.Record, after string, batch int) ([]*core.Record, error) {
	q, err := members(app, c, seg)
	if err != nil {
		return nil, err
	}
	var recs []*core.Record
	err = q.AndWhere(dbx.NewExp("{{"+Object+"}}.[[id]] > {:last}", dbx.Params{"last": after})).
		Limit(int64(batch)).All(&recs)
	if err != nil {
		return nil, fmt.Errorf("read the members of %q: %w", seg.GetString("name"), err)
	}
	return recs, nil
}

// IDs returns the ids of seg's members that c may list.
func IDs(app core.App, c schemas.Caller, seg *core.Record) ([]string, error) {
	q, err := members(app, c, seg)
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := q.Select("{{" + Object + "}}.[[id]]").Column(&ids); err != nil {
		return nil, fmt.Errorf("read the members of %q: %w", seg.GetString("name"), err)
	}
	return ids, nil
}

// Contains reports whether the contact id is one of seg's members c may list.
func Contains(app core.App, c schemas.Caller, seg *core.Record, id string) (bool, error) {
	q, err := members(app, c, seg)
	if err != nil {
		return false, err
	}
	var ids []string
	err = q.Select("{{" + Object + "}}.[[id]]").AndWhere(dbx.NewExp("{{"+Object+"}}.[[id]] = {:one}", dbx.Params{"one": id})).
		Limit(1).Column(&ids)
	if err != nil {
		return false, fmt.Errorf("check membership of %q: %w", seg.GetString("name"), err)
	}
	return len(ids) == 1, nil
}

// Owner returns the user a segment (or a campaign) is evaluated as: its owner. A missing
// owner is an error, never a fall back to the system actor.
func Owner(app core.App, rec *core.Record) (schemas.Caller, error) {
	id := rec.GetString("owner")
	if id == "" {
		return schemas.Caller{}, fmt.Errorf("%w: %q has no owner to evaluate it as", ErrInvalid, rec.GetString("name"))
	}
	u, err := app.FindRecordById(schemas.UsersCollection, id)
	if err != nil {
		return schemas.Caller{}, fmt.Errorf("%w: the owner of %q no longer exists", ErrInvalid, rec.GetString("name"))
	}
	return schemas.User(u), nil
}

// Find returns the segment named or with id nameOrID.
func Find(app core.App, nameOrID string) (*core.Record, error) {
	if rec, err := app.FindRecordById(Collection, nameOrID); err == nil {
		return rec, nil
	}
	rec, err := app.FindFirstRecordByData(Collection, "name", strings.TrimSpace(nameOrID))
	if err != nil {
		return nil, fmt.Errorf("no segment %q", nameOrID)
	}
	return rec, nil
}
