package dedupe

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// defaultLimit is how many pairs the duplicates endpoint answers unless asked for another limit.
const defaultLimit = 200

func (s *Service) routes(e *core.ServeEvent) {
	g := e.Router.Group("/api/relata")
	g.GET("/duplicates/{object}", s.handleList).Bind(apis.RequireAuth())
	g.GET("/duplicates/{object}/check", s.handleCheck).Bind(apis.RequireAuth())
	g.POST("/merge/{object}", s.handleMerge).Bind(apis.RequireAuth())
	g.POST("/merges/{id}/undo", s.handleUndo).Bind(apis.RequireAuth())
	g.GET("/merges/redirect/{object}/{id}", s.handleRedirect).Bind(apis.RequireAuth())
}

// caller is the CRM user or superuser of a request; other auth records are refused.
func caller(e *core.RequestEvent) (schemas.Caller, bool) {
	if !e.HasSuperuserAuth() && (e.Auth == nil || e.Auth.Collection().Name != schemas.UsersCollection) {
		return schemas.Caller{}, false
	}
	info, err := e.RequestInfo()
	if err != nil {
		return schemas.Caller{}, false
	}
	return schemas.Request(info), true
}

func (s *Service) fail(e *core.RequestEvent, err error) error {
	switch {
	case errors.Is(err, schemas.ErrForbidden):
		return e.ForbiddenError(err.Error(), nil)
	case errors.Is(err, ErrNotFound):
		return e.NotFoundError(err.Error(), nil)
	case errors.Is(err, ErrChanged):
		return e.Error(http.StatusConflict, err.Error(), nil)
	}
	return e.BadRequestError(err.Error(), nil)
}

func (s *Service) handleList(e *core.RequestEvent) error {
	c, ok := caller(e)
	if !ok {
		return e.ForbiddenError("Only CRM users can look for duplicates.", nil)
	}
	done, ok := s.startScan(c)
	if !ok {
		return e.Error(http.StatusTooManyRequests, fmt.Sprintf(
			"You already have %d duplicate scans running: wait for one to end.", MaxScansPerUser), nil)
	}
	defer done()
	start := time.Now()
	ix, err := s.Index(c, e.Request.PathValue("object"))
	if err != nil {
		return s.fail(e, err)
	}
	pairs := ix.Pairs()
	limit := defaultLimit
	if l, err := strconv.Atoi(e.Request.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = min(l, 5000)
	}
	total := len(pairs)
	if total > limit {
		pairs = pairs[:limit]
	}
	if pairs == nil {
		pairs = []Pair{}
	}
	return e.JSON(http.StatusOK, map[string]any{"pairs": pairs, "total": total, "records": ix.Len(),
		"ms": time.Since(start).Milliseconds()})
}

// handleCheck answers the existing records a record with the query's field values may
// duplicate (exclude=ID leaves one out): the web app asks it while a record is created.
func (s *Service) handleCheck(e *core.RequestEvent) error {
	c, ok := caller(e)
	if !ok {
		return e.ForbiddenError("Only CRM users can look for duplicates.", nil)
	}
	o, ok := s.reg.Object(e.Request.PathValue("object"))
	if !ok {
		return e.NotFoundError("No such object.", nil)
	}
	values := map[string]any{}
	for k, v := range e.Request.URL.Query() {
		if len(v) > 0 {
			values[k] = v[0]
		}
	}
	matches, err := Check(s.app, c, o, s.rules, values, e.Request.URL.Query().Get("exclude"))
	if err != nil {
		return s.fail(e, err)
	}
	if len(matches) > 10 {
		matches = matches[:10]
	}
	if matches == nil {
		matches = []Match{}
	}
	return e.JSON(http.StatusOK, map[string]any{"matches": matches})
}

func (s *Service) handleMerge(e *core.RequestEvent) error {
	c, ok := caller(e)
	if !ok {
		return e.ForbiddenError("Only CRM users can merge records.", nil)
	}
	var body struct {
		Winner string   `json:"winner"`
		Loser  string   `json:"loser"`
		Take   []string `json:"take"`
		Keep   []string `json:"keep"`
	}
	if err := e.BindBody(&body); err != nil {
		return e.BadRequestError("Send {\"winner\", \"loser\", \"take\", \"keep\"} as JSON.", err)
	}
	if body.Winner == "" || body.Loser == "" {
		return e.BadRequestError("Both winner and loser are required.", nil)
	}
	res, err := s.Merge(c, MergeOptions{Object: e.Request.PathValue("object"), Winner: body.Winner, Loser: body.Loser, Take: body.Take, Keep: body.Keep})
	if err != nil {
		return s.fail(e, err)
	}
	return e.JSON(http.StatusOK, res)
}

func (s *Service) handleUndo(e *core.RequestEvent) error {
	c, ok := caller(e)
	if !ok {
		return e.ForbiddenError("Only CRM users can undo merges.", nil)
	}
	res, err := s.Undo(c, e.Request.PathValue("id"))
	if err != nil {
		return s.fail(e, err)
	}
	return e.JSON(http.StatusOK, res)
}

// handleRedirect answers where a merged-away record went, when the caller may view it there.
func (s *Service) handleRedirect(e *core.RequestEvent) error {
	c, ok := caller(e)
	if !ok {
		return e.ForbiddenError("Only CRM users can follow merged records.", nil)
	}
	object := e.Request.PathValue("object")
	if _, ok := s.reg.Object(object); !ok {
		return e.NotFoundError("No such object.", nil)
	}
	to, err := Redirect(s.app, object, e.Request.PathValue("id"))
	if err != nil {
		return err
	}
	if to == "" {
		return e.NotFoundError("This record was not merged into another.", nil)
	}
	rec, err := s.app.FindRecordById(object, to)
	if err != nil {
		return e.NotFoundError("This record was not merged into another.", nil)
	}
	if ok, err := c.CanView(s.app, rec); err != nil || !ok {
		return e.NotFoundError("This record was not merged into another.", nil)
	}
	return e.JSON(http.StatusOK, map[string]any{"id": to})
}
