package segments

import (
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

// Check reports whether a dynamic segment's filter can be evaluated for c: it parses, names
// fields c may filter by, and passes the filter guard. The error says where and why.
func Check(app core.App, c schemas.Caller, filter string) error {
	q, err := schemas.MatchQuery(app, c, schemas.Query{Object: Object, Filter: filter})
	if err != nil {
		return err
	}
	// building the SQL resolves every path of the filter
	var n int
	return q.Select("count(*)").OrderBy().Limit(1).Row(&n)
}

// CountFilter counts the contacts matching filter that c may list (the builder's live count).
func CountFilter(app core.App, c schemas.Caller, filter string) (int, error) {
	return CountDefinition(app, c, filter, nil)
}

// CountDefinition counts the contacts matching filter and every engagement condition that c
// may list: the builder's live count of a dynamic segment not saved yet.
func CountDefinition(app core.App, c schemas.Caller, filter string, conds []Engagement) (int, error) {
	if err := CheckEngagement(app, c, conds); err != nil {
		return 0, err
	}
	q, err := schemas.MatchQuery(app, c, schemas.Query{Object: Object, Filter: filter})
	if err != nil {
		return 0, err
	}
	return count(app, withEngagement(q, conds, time.Now()))
}

// Count counts seg's members that c may list.
func Count(app core.App, c schemas.Caller, seg *core.Record) (int, error) {
	q, err := members(app, c, seg)
	if err != nil {
		return 0, err
	}
	return count(app, q)
}

func count(app core.App, q *dbx.SelectQuery) (int, error) {
	built := q.Select("{{" + Object + "}}.[[id]]").OrderBy().Build()
	var n int
	err := app.ConcurrentDB().NewQuery("SELECT count(*) FROM (" + built.SQL() + ")").Bind(built.Params()).Row(&n)
	if err != nil {
		return 0, fmt.Errorf("count the segment: %w", err)
	}
	return n, nil
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
