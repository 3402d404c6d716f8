package insights

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// maxStageSinceIDs caps the ids of one stage-since request (a board asks per column page).
const maxStageSinceIDs = 500

func (s *Service) routes(se *core.ServeEvent) {
	g := se.Router.Group("/api/relata")
	g.Bind(apis.RequireAuth(), &hook.Handler[*core.RequestEvent]{Id: "relata.insights.users", Func: requireUser})
	g.GET("/objects", s.apiObjects)
	g.GET("/objects/{object}", s.apiObject)
	g.GET("/objects/{object}/index-advice", s.apiIndexAdvice)
	g.GET("/insights/pipeline", s.report(func(info *core.RequestInfo, q Query, _ *core.RequestEvent) (any, error) { return s.Pipeline(info, q) }))
	g.GET("/insights/forecast", s.report(func(info *core.RequestInfo, q Query, _ *core.RequestEvent) (any, error) { return s.Forecast(info, q) }))
	g.GET("/insights/sources", s.report(func(info *core.RequestInfo, q Query, _ *core.RequestEvent) (any, error) { return s.Sources(info, q) }))
	g.GET("/insights/cycle", s.report(func(info *core.RequestInfo, q Query, _ *core.RequestEvent) (any, error) { return s.Cycle(info, q) }))
	g.GET("/insights/stage-since", s.report(s.apiStageSince))
	g.GET("/timeline/{object}/{id}", s.apiTimeline)
}

// requireUser lets CRM users and superusers through.
func requireUser(re *core.RequestEvent) error {
	if re.HasSuperuserAuth() || re.Auth.Collection().Name == schemas.UsersCollection {
		return re.Next()
	}
	return re.ForbiddenError("Only CRM users can use the web app's endpoints.", nil)
}

func (s *Service) apiObjects(re *core.RequestEvent) error {
	return re.JSON(http.StatusOK, map[string]any{"objects": s.reg.Objects()})
}

func (s *Service) apiObject(re *core.RequestEvent) error {
	obj, ok := s.reg.Object(re.Request.PathValue("object"))
	if !ok {
		return re.NotFoundError("Unknown object.", nil)
	}
	return re.JSON(http.StatusOK, obj)
}

// apiIndexAdvice tells admins which columns of ?sort= lists of the object would need an
// index (schemas.AdviseSortIndexes); the web app asks when an admin sorts a list.
func (s *Service) apiIndexAdvice(re *core.RequestEvent) error {
	if !re.HasSuperuserAuth() && re.Auth.GetString("role") != schemas.RoleAdmin {
		return re.ForbiddenError("Index advice is for admins.", nil)
	}
	obj, ok := s.reg.Object(re.Request.PathValue("object"))
	if !ok {
		return re.NotFoundError("Unknown object.", nil)
	}
	coll, err := re.App.FindCachedCollectionByNameOrId(obj.Name)
	if err != nil {
		return re.NotFoundError("Unknown object.", nil)
	}
	advice, err := schemas.AdviseSortIndexes(re.App, coll, re.Request.URL.Query().Get("sort"), schemas.IndexAdviceMinRows)
	if err != nil {
		return re.InternalServerError("", err)
	}
	if advice == nil {
		advice = []schemas.IndexAdvice{}
	}
	return re.JSON(http.StatusOK, map[string]any{"advice": advice})
}

func queryOf(re *core.RequestEvent) Query {
	v := re.Request.URL.Query()
	return Query{Object: v.Get("object"), Pipeline: v.Get("pipeline"), Field: v.Get("field"), Amount: v.Get("amount"),
		Date: v.Get("date"), By: v.Get("by"), Closed: v.Get("closed"), At: v.Get("at"),
		Owner: v.Get("owner"), Team: v.Get("team")}
}

// report turns a computation into a handler, translating errors at the edge.
func (s *Service) report(f func(*core.RequestInfo, Query, *core.RequestEvent) (any, error)) func(*core.RequestEvent) error {
	return func(re *core.RequestEvent) error {
		out, err := f(Caller(re.Auth), queryOf(re), re)
		if err != nil {
			return apiError(re, err)
		}
		return re.JSON(http.StatusOK, out)
	}
}

func apiError(re *core.RequestEvent, err error) error {
	var qe *QueryError
	switch {
	case errors.As(err, &qe):
		return re.BadRequestError(qe.Message, nil)
	case errors.Is(err, ErrForbidden):
		return re.ForbiddenError("You may not read these records.", nil)
	case errors.Is(err, ErrNotFound):
		return re.NotFoundError("The requested resource wasn't found.", nil)
	}
	return re.InternalServerError("", err)
}

func (s *Service) apiStageSince(info *core.RequestInfo, q Query, re *core.RequestEvent) (any, error) {
	var ids []string
	for _, id := range strings.Split(re.Request.URL.Query().Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) > maxStageSinceIDs {
		return nil, badQuery("ids: at most %d ids per request", maxStageSinceIDs)
	}
	since, err := s.StageSince(info, q, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(since))
	for id, t := range since {
		out[id] = t.Format(time.RFC3339Nano)
	}
	return map[string]any{"since": out}, nil
}

func (s *Service) apiTimeline(re *core.RequestEvent) error {
	entries, err := s.Timeline(Caller(re.Auth), re.Request.PathValue("object"), re.Request.PathValue("id"))
	if err != nil {
		return apiError(re, err)
	}
	return re.JSON(http.StatusOK, map[string]any{"items": entries})
}
