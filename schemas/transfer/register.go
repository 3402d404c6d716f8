package transfer

import (
	"errors"
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// errForbidden is returned when the caller may not read or write the records of an object.
var errForbidden = errors.New("you may not read these records")

// registry is what transfer needs of the object model.
type registry interface {
	Object(name string) (*schemas.Object, bool)
	Sync() error
}

// Config configures import and export.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// BatchSize is how many rows one transaction imports. Default: 5000.
	BatchSize int
	// LoadWorkflows reads the enabled workflows into the app's workflow engine
	// (workflows.Engine.Load). The commands whose writes trigger workflows (import and
	// reassign with --workflows) call it first: the engine reads them when the server
	// starts, which a command does not. Without it those commands refuse --workflows.
	LoadWorkflows func() error
}

// Service imports and exports the records of a PocketBase app.
type Service struct {
	app core.App
	reg registry
	cfg Config

	jobsOnce sync.Once
	bg       *jobs             // bulk jobs running in the background (bulk.go)
	jobs     sync.Map          // batch id -> *job (the wizard's imports)
	busy     schemas.UserSlots // each user's imports, exports and jobs in progress (busy.go)
}

// Register adds import and export to app: its routes when the server starts and, if rootCmd
// is set, the "import" and "export" commands.
func Register(app core.App, rootCmd *cobra.Command, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("transfer: Config.Registry is required")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 5000 // each commit rewrites the index pages it touched: fewer, larger ones write less
	}
	s := &Service{app: app, reg: cfg.Registry, cfg: cfg, busy: schemas.UserSlots{Max: MaxBusyPerUser}}
	app.OnServe().BindFunc(func(e *core.ServeEvent) error {
		s.routes(e)
		s.bulkRoutes(e)
		if err := s.interruptJobs(); err != nil {
			return err
		}
		if err := s.forgetOldChanges(); err != nil {
			return err
		}
		return e.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		s.StopJobs()
		return e.Next()
	})
	if rootCmd != nil {
		rootCmd.AddCommand(s.newImportCommand(), s.newExportCommand(), s.newReassignCommand())
	}
	return s, nil
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, rootCmd *cobra.Command, cfg Config) *Service {
	s, err := Register(app, rootCmd, cfg)
	if err != nil {
		panic(err)
	}
	return s
}
