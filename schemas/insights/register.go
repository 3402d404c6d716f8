package insights

import (
	"errors"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// Config configures the insights endpoints.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
}

// Service computes the numbers and timelines of the web app for one app.
type Service struct {
	app core.App
	reg *schemas.Registry
}

// Register adds the insights routes to app when it serves, and returns the service (for
// tests and other Go callers).
func Register(app core.App, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("insights: Config.Registry is required")
	}
	s := New(app, cfg.Registry)
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.insights.routes",
		Func: func(e *core.ServeEvent) error {
			s.routes(e)
			return e.Next()
		},
	})
	return s, nil
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, cfg Config) *Service {
	s, err := Register(app, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// New returns a service for app without binding any route.
func New(app core.App, reg *schemas.Registry) *Service {
	return &Service{app: app, reg: reg}
}
