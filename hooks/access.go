package hooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/subscriptions"

	"github.com/relata/relata/schemas"
)

// bindAccess binds the request guards of schemas/access.go to every collection, custom and
// dashboard-added ones included:
//   - record create and update (REST and batch): every newly set relation id must be a
//     record the caller may view ([schemas.CheckLinks]), else 400 naming the field;
//   - record lists (and so their counts): the filter guard ([schemas.CheckFilter]) on the
//     filter and sort query parameters, else 400 before any query runs;
//   - realtime subscriptions: the same guard on options.query.filter and sort.
//
// The record view API takes no filter; batch requests cannot list.
func bindAccess(app core.App) {
	app.OnRecordCreateRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "relata.hooks.links-create", Func: checkLinks})
	app.OnRecordUpdateRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "relata.hooks.links-update", Func: checkLinks})
	app.OnRealtimeSubscribeRequest().Bind(&hook.Handler[*core.RealtimeSubscribeRequestEvent]{Id: "relata.hooks.subscribe-filter-guard", Func: guardSubscriptions})
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.hooks.list-filter-guard",
		Func: func(se *core.ServeEvent) error {
			se.Router.Bind(&hook.Handler[*core.RequestEvent]{Id: "relata.hooks.list-filter-guard", Func: guardList})
			return se.Next()
		},
	})
}

func checkLinks(e *core.RecordRequestEvent) error {
	// evaluated as a view by the same user (GET, no body), as the records API would
	if err := schemas.CheckLinks(e.App, e.Record, schemas.User(e.Auth)); err != nil {
		var ae *schemas.AccessError
		if errors.As(err, &ae) {
			return e.BadRequestError(ae.Error(), validation.Errors{ae.Path: validation.NewError("relation_not_viewable", ae.Message)})
		}
		return err
	}
	return e.Next()
}

// guardList applies the filter guard to GET /api/collections/{collection}/records.
func guardList(e *core.RequestEvent) error {
	if e.Request.Method != http.MethodGet && e.Request.Method != http.MethodHead {
		return e.Next()
	}
	rest, ok := strings.CutPrefix(e.Request.URL.Path, "/api/collections/")
	name, tail, _ := strings.Cut(rest, "/")
	if !ok || tail != "records" {
		return e.Next()
	}
	q := e.Request.URL.Query()
	if q.Get("filter") == "" && q.Get("sort") == "" {
		return e.Next()
	}
	if err := guard(e, name, q.Get("filter"), q.Get("sort")); err != nil {
		return err
	}
	return e.Next()
}

// guardSubscriptions applies the filter guard to the options of each subscription
// ("deals/*?options={"query":{"filter":…}}").
func guardSubscriptions(e *core.RealtimeSubscribeRequestEvent) error {
	for _, sub := range e.Subscriptions {
		topic, raw, found := strings.Cut(sub, "?")
		if !found {
			continue
		}
		vals, err := url.ParseQuery(raw)
		if err != nil || vals.Get("options") == "" {
			continue
		}
		var opts subscriptions.SubscriptionOptions
		if err := json.Unmarshal([]byte(vals.Get("options")), &opts); err != nil {
			continue // PocketBase ignores options it cannot read
		}
		name, _, _ := strings.Cut(topic, "/")
		if err := guard(e.RequestEvent, name, opts.Query["filter"], opts.Query["sort"]); err != nil {
			return err
		}
	}
	return e.Next()
}

func guard(e *core.RequestEvent, collection, filter, sort string) error {
	if filter == "" && sort == "" {
		return nil
	}
	coll, err := e.App.FindCachedCollectionByNameOrId(collection)
	if err != nil {
		return nil // PocketBase answers unknown collections itself
	}
	if err := schemas.CheckFilter(e.App, coll, schemas.User(e.Auth), filter, sort); err != nil {
		var ae *schemas.AccessError
		if errors.As(err, &ae) {
			return e.BadRequestError(ae.Error(), nil)
		}
		return err
	}
	return nil
}
