package tokens

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

// Config configures API tokens.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Service authenticates requests that carry a token and makes tokens.
type Service struct {
	reg      *schemas.Registry
	now      func() time.Time
	sessions *sessions // users of sign-in tokens, read once a second (sessions.go)
}

// requestKey marks, in a request's store, the token the request is authenticated with.
const requestKey = "relata.apiToken"

// FromRequest returns the token e is authenticated with, if it is one.
func FromRequest(e *core.RequestEvent) (*Token, bool) {
	t, ok := e.Get(requestKey).(*Token)
	return t, ok
}

// Register adds the token middleware (before PocketBase's own token loading) and the route
// POST /api/relata/tokens.
func Register(app core.App, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("tokens: Config.Registry is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{reg: cfg.Registry, now: cfg.Now, sessions: newSessions()}
	s.sessions.bind(app)
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Id: "relata.tokens.routes", Func: func(se *core.ServeEvent) error {
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id:       "relata.tokens.auth",
			Priority: apis.DefaultLoadAuthTokenMiddlewarePriority - 1,
			Func:     s.authenticate,
		})
		se.Router.POST("/api/relata/tokens", s.apiCreate).Bind(apis.RequireAuth("users"))
		return se.Next()
	}})
	return s, nil
}

// authenticate serves a request that carries an API token as the token's user, within the
// token's reach, and one that carries a user's sign-in token as that user (read from the
// sessions cache); other requests, and sign-in tokens it refuses, go on to PocketBase's own
// token loading.
func (s *Service) authenticate(e *core.RequestEvent) error {
	raw := e.Request.Header.Get("Authorization")
	if len(raw) > 7 && strings.EqualFold(raw[:7], "Bearer ") {
		raw = raw[7:]
	}
	if !strings.HasPrefix(raw, Prefix) {
		if raw != "" && e.Auth == nil {
			if user, err := s.sessions.user(e.App, raw); err == nil {
				e.Auth = user
			}
		}
		return e.Next()
	}
	now := s.now()
	t, user, err := Resolve(e.App, raw, now)
	if err != nil {
		return e.UnauthorizedError("The API token is unknown, revoked or expired.", nil)
	}
	if len(t.Objects) > 0 && e.Request.URL.Query().Has("expand") {
		return e.ForbiddenError("An API token scoped to some objects cannot expand relations; ask for the related records by their own route.", nil)
	}
	if why := s.refusal(t, e.Request.Method, e.Request.URL.Path); why != "" {
		return e.ForbiddenError(why, nil)
	}
	if why := reachRefusal(e, t); why != "" {
		return e.ForbiddenError(why, nil)
	}
	touch(e.App, t, now)
	e.Auth = user
	e.Set(requestKey, t)
	return e.Next()
}

// refusal says why t may not make the request, or "" when it may.
func (s *Service) refusal(t *Token, method, path string) string {
	read := method == http.MethodGet || method == http.MethodHead
	if t.Scope != ScopeWrite && !read {
		return "This API token only reads (scope \"read\")."
	}
	p := strings.Split(strings.Trim(path, "/"), "/")
	object := func(name string, usersToo bool) string {
		if _, ok := s.reg.Object(name); !ok && !(usersToo && name == "users" && read) {
			return "API tokens reach the records of CRM objects only, not " + name + "."
		}
		if !t.Reaches(name) && name != "users" {
			return "This API token does not reach " + name + "."
		}
		return ""
	}
	switch {
	case len(p) == 2 && p[0] == "api" && p[1] == "health":
		return ""
	case len(p) >= 4 && len(p) <= 5 && p[0] == "api" && p[1] == "collections" && p[3] == "records":
		return object(p[2], true)
	case len(p) >= 4 && p[0] == "api" && p[1] == "files" && read:
		return object(p[2], true)
	case len(p) == 4 && p[0] == "api" && p[1] == "relata" && (p[2] == "export" && read || p[2] == "import"):
		return object(p[3], false)
	}
	return "API tokens reach record, file, import and export routes only; sign in for " + path + "."
}

// reachRefusal says why a token scoped to some objects may not filter or sort the request's
// object by the paths it names, or "": a path that joins an object the token does not reach
// ("deals_via_contact.amount ?> 30000" with a token for contacts) would read that object
// through the one it does.
func reachRefusal(e *core.RequestEvent, t *Token) string {
	if len(t.Objects) == 0 {
		return ""
	}
	q := e.Request.URL.Query()
	if q.Get("filter") == "" && q.Get("sort") == "" {
		return ""
	}
	p := strings.Split(strings.Trim(e.Request.URL.Path, "/"), "/")
	name := ""
	switch {
	case len(p) >= 4 && p[0] == "api" && p[1] == "collections" && p[3] == "records":
		name = p[2]
	case len(p) == 4 && p[0] == "api" && p[1] == "relata" && p[2] == "export":
		name = p[3]
	default:
		return ""
	}
	coll, err := e.App.FindCachedCollectionByNameOrId(name)
	if err != nil {
		return "" // the route answers an unknown collection itself
	}
	reached, err := schemas.Reached(e.App, coll, q.Get("filter"), q.Get("sort"))
	if err != nil {
		return "" // the route answers a filter that does not parse itself
	}
	for _, r := range reached {
		if r != "users" && !t.Reaches(r) {
			return "This API token does not reach " + r + ": its filter or sort may name only fields of the objects it reaches."
		}
	}
	return ""
}

// apiCreate makes a token for the signed-in user (not with a token: a token makes no tokens).
func (s *Service) apiCreate(e *core.RequestEvent) error {
	if _, ok := FromRequest(e); ok {
		return e.ForbiddenError("An API token cannot make tokens; sign in.", nil)
	}
	var spec Spec
	if err := e.BindBody(&spec); err != nil {
		return e.BadRequestError("The body is not a token request: "+err.Error(), nil)
	}
	token, rec, err := Create(e.App, e.Auth, spec, func(name string) bool { _, ok := s.reg.Object(name); return ok }, s.now())
	var bad *SpecError
	if errors.As(err, &bad) {
		return e.BadRequestError("The token request is refused at "+bad.Pointer+": "+bad.Message+".",
			map[string]any{bad.Pointer: map[string]string{"code": "invalid", "message": bad.Message}})
	}
	if err != nil {
		return e.InternalServerError("", err)
	}
	return e.JSON(http.StatusOK, map[string]any{
		"id": rec.Id, "token": token, "name": rec.GetString("name"), "hint": rec.GetString("hint"),
		"scope": rec.GetString("scope"), "objects": rec.Get("objects"), "expires": rec.GetDateTime("expires"),
	})
}
