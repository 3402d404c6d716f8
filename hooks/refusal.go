package hooks

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/relata/relata/schemas"
)

// bindRefusals makes the API say why an object's access rules refused a request, in place of
// PocketBase's bare `400 "Failed to create record."` (or a 404 for a record the user can see
// but may not change): the rule, worded by [schemas.ExplainRefusal] from the same access
// policy that generates the rules, and the field at fault in data. PocketBase checks the
// create rule before the record request hooks run, so this is a middleware of the record
// routes; it changes only answers that are refusals, and never reveals a record the user
// cannot view.
func bindRefusals(app core.App, reg *schemas.Registry) {
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.hooks.refusals",
		Func: func(se *core.ServeEvent) error {
			se.Router.Bind(&hook.Handler[*core.RequestEvent]{
				Id:   "relata.hooks.refusal-reasons",
				Func: func(e *core.RequestEvent) error { return explainRefusal(e, reg, e.Next()) },
			})
			return se.Next()
		},
	})
}

const recordsPath = "/api/collections/{collection}/records"

func explainRefusal(e *core.RequestEvent, reg *schemas.Registry, err error) error {
	var apiErr *router.ApiError
	if err == nil || !errors.As(err, &apiErr) || !strings.HasPrefix(e.Request.Pattern, e.Request.Method+" "+recordsPath) {
		return err
	}
	obj, ok := reg.Object(e.Request.PathValue("collection"))
	if !ok {
		return err
	}
	info, ierr := e.RequestInfo()
	if ierr != nil || info.HasSuperuserAuth() {
		return err
	}
	var actor schemas.Actor
	if info.Auth != nil && info.Auth.Collection().Name == schemas.UsersCollection {
		actor = schemas.Actor{ID: info.Auth.Id, Role: info.Auth.GetString("role")}
	}
	var action string
	switch {
	case e.Request.Method == http.MethodPost && e.Request.Pattern == http.MethodPost+" "+recordsPath:
		// Only the create rule's refusal: a validation error has data, this one has none.
		raw, _ := apiErr.RawData().(error)
		if apiErr.Status != http.StatusBadRequest || raw == nil || !strings.HasPrefix(raw.Error(), "create rule failure") {
			return err
		}
		action = schemas.ActionCreate
	case apiErr.Status == http.StatusNotFound && (e.Request.Method == http.MethodPatch || e.Request.Method == http.MethodDelete):
		// A 404 hides records out of reach: explain only if the user may view the record.
		if actor.ID == "" || !canView(e, info, obj.Name, e.Request.PathValue("id")) {
			return err
		}
		action = schemas.ActionUpdate
		if e.Request.Method == http.MethodDelete {
			action = schemas.ActionDelete
		}
	default:
		return err
	}
	r := schemas.ExplainRefusal(obj, action, actor, info.Body)
	if r == nil {
		return err
	}
	// data names the field at fault — or, for a refusal of the request as a whole (a delete),
	// the record's id — with the refusal's code and params, which a client words in its
	// reader's language.
	field := r.Field
	if field == "" && e.Request.PathValue("id") != "" {
		field = "id"
	}
	var data validation.Errors
	if field != "" {
		data = validation.Errors{field: validation.NewError(r.Code, r.Message).SetParams(r.Params)}
	}
	status := http.StatusForbidden
	if action == schemas.ActionCreate {
		status = http.StatusBadRequest // as PocketBase answers a refused create
	}
	if actor.ID == "" {
		status = http.StatusUnauthorized
	}
	return router.NewApiError(status, fmt.Sprintf("%s refused: %s", action, r.Message), data)
}

// canView reports whether the request's user may view record id of collection under its view
// rule, as GET /api/collections/{collection}/records/{id} would.
func canView(e *core.RequestEvent, info *core.RequestInfo, collection, id string) bool {
	rec, err := e.App.FindRecordById(collection, id)
	if err != nil {
		return false
	}
	ok, err := schemas.Request(info).CanView(e.App, rec)
	return err == nil && ok
}
