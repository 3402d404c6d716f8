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
	"github.com/spf13/cast"

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
// ("deals/*?options={"query":{"filter":…}}"), read as PocketBase reads them
// (subscriptionQuery): options it can read a filter from with any leniency — an extra key
// that is not a string, a header that is not, a topic whose query string has a stray "%" or
// ";" — are guarded, not skipped. After PocketBase has stored the subscriptions, each one's
// stored options are checked once more and any the guard refuses is removed: what is guarded
// is what the broker filters events with.
func guardSubscriptions(e *core.RealtimeSubscribeRequestEvent) error {
	for _, sub := range e.Subscriptions {
		q := subscriptionQuery(sub)
		if err := guard(e.RequestEvent, subscriptionCollection(sub), q["filter"], q["sort"]); err != nil {
			return err
		}
	}
	if err := e.Next(); err != nil {
		return err
	}
	if e.Client == nil {
		return nil
	}
	for sub, opts := range e.Client.Subscriptions() {
		if err := guard(e.RequestEvent, subscriptionCollection(sub), opts.Query["filter"], opts.Query["sort"]); err != nil {
			e.Client.Unsubscribe(sub)
			e.App.Logger().Warn("relata: a realtime subscription the filter guard refuses was removed", "subscription", sub, "error", err)
		}
	}
	return nil
}

// subscriptionCollection is the collection (name or id) a subscription topic is about:
// "deals/*?options=…" → "deals".
func subscriptionCollection(sub string) string {
	topic, _, _ := strings.Cut(sub, "?")
	name, _, _ := strings.Cut(topic, "/")
	return name
}

// subscriptionQuery reads a subscription's options.query as PocketBase's subscription client
// does (tools/subscriptions DefaultClient.Subscribe): url.Parse, the options parameter
// decoded into maps of any value, errors ignored, each value made a string with cast.
func subscriptionQuery(sub string) map[string]string {
	raw := struct {
		Query map[string]any `json:"query"`
	}{}
	if u, err := url.Parse(sub); err == nil {
		if opts := u.Query().Get("options"); opts != "" {
			_ = json.Unmarshal([]byte(opts), &raw) // PocketBase keeps what it could decode
		}
	}
	out := make(map[string]string, len(raw.Query))
	for k, v := range raw.Query {
		out[k] = cast.ToString(v)
	}
	return out
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
