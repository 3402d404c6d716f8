package workflows

import (
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// checkReadFilter refuses a filter or sort of a workflow's read (a for_each's "over" query, a
// script's find) that reaches past the CRM objects and their users, or compares users'
// emails. Reads as the system actor (no runAs) run without rules and with hidden fields
// allowed ([schemas.Find]), so a path into another collection ("owner.api_tokens_via_user.hint
// ?~ 'rlt_a'", "owner.saved_views_via_owner.name ?~ 'x'") would compare records that only
// their owner may list, and "owner.email ~ 'a%'" addresses their users keep hidden — told, one
// comparison at a time, through how many items a dry run (POST /api/relata/workflows/test) or
// a run's history shows. A manager may also name as runAs any user whose email they know, an
// admin (who lists every user's API tokens) among them: so the same limits hold for run-as
// users too. Workflows act on CRM records; what else a user may read is read
// through its own API, as that user. A path crosses at most [schemas.MaxBackRelations]
// back-relations, as for users.
func checkReadFilter(app core.App, reg *schemas.Registry, object, filter, sort string) error {
	coll, err := app.FindCachedCollectionByNameOrId(object)
	if err != nil {
		return nil // Find answers an unknown object
	}
	return schemas.CheckSystemFilter(app, coll, filter, sort, func(name string) bool {
		_, ok := reg.Object(name)
		return ok
	}, "workflows")
}

// checkFilterQuery checks at save that a workflow's filter (and sort) reads as [schemas.Find] would read
// it (fields, operators, the SQL it builds), without reading a record: the query is prepared
// with a condition that is always false, which SQLite decides before its first row. Running
// the filter itself took as long as a run's read (6 s for 30 terms through a back-relation
// over 2,000 deals) on every save, every validation the builder makes as its author types,
// and every reload of the workflows.
func checkFilterQuery(app core.App, object, filter, sort string, params dbx.Params) error {
	query, err := schemas.MatchQuery(app, schemas.System, schemas.Query{Object: object, Filter: filter, Sort: sort, Params: params})
	if err != nil {
		return err
	}
	var recs []*core.Record
	if err := query.AndWhere(dbx.NewExp("1 = 0")).Limit(1).All(&recs); err != nil {
		return fmt.Errorf("find %s: %w", object, err)
	}
	return nil
}
