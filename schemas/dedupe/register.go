package dedupe

import (
	"errors"
	"fmt"
	"os"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// registry is what dedupe needs of the object model.
type registry interface {
	Object(name string) (*schemas.Object, bool)
	Sync() error
}

// Config configures duplicate finding and merging.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// RulesFile is a JSON rules file (see docs/duplicates.md); empty: every object's
	// default rules ([DefaultRules]) and no phone region.
	RulesFile string
}

// Service finds duplicate records and merges them.
type Service struct {
	app   core.App
	reg   registry
	cfg   Config
	rules *Rules

	scans schemas.UserSlots // the duplicate scans each user runs now ([MaxScansPerUser])
}

// MaxScansPerUser bounds the duplicate scans (GET /api/relata/duplicates/{object}) one user
// runs at once: a scan reads every record of the object the user may view and compares them
// (1.6 s and 290 MB at 10,000 contacts sharing a company and a phone), so one account sending
// them side by side would take the server's memory from everyone else. Superusers and the
// command line are not bounded. Two, so that a user who switches the duplicates page to
// another object while a scan runs is not refused.
const MaxScansPerUser = 2

// startScan takes one of c's scan slots, or reports false when c runs MaxScansPerUser
// already; done gives it back.
func (s *Service) startScan(c schemas.Caller) (done func(), ok bool) {
	a := c.Auth()
	if a == nil || c.IsSuperuser() {
		return func() {}, true
	}
	return s.scans.Take(a.Id)
}

// Register adds duplicates and merge to app: its routes when the server starts and, if
// rootCmd is set, the "duplicates" and "merge" commands. A rules file with problems fails
// here, with every problem located.
func Register(app core.App, rootCmd *cobra.Command, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("dedupe: Config.Registry is required")
	}
	s := &Service{app: app, reg: cfg.Registry, cfg: cfg, scans: schemas.UserSlots{Max: MaxScansPerUser}}
	s.bindWarnings(app)
	app.OnServe().BindFunc(func(e *core.ServeEvent) error {
		if err := s.loadRules(); err != nil {
			return err
		}
		s.routes(e)
		return e.Next()
	})
	if rootCmd != nil {
		rootCmd.AddCommand(s.newDuplicatesCommand(), s.newMergeCommand())
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

// loadRules reads Config.RulesFile against the live object model.
func (s *Service) loadRules() error {
	if s.cfg.RulesFile == "" {
		return nil
	}
	data, err := os.ReadFile(s.cfg.RulesFile)
	if err != nil {
		return fmt.Errorf("dedupe rules: %w", err)
	}
	rs, err := ParseRules(data, s.cfg.RulesFile, s.reg.Object)
	if err != nil {
		return err
	}
	s.rules = rs
	return nil
}

// Rules are the rules in force: those of Config.RulesFile, or nil for the defaults.
func (s *Service) Rules() *Rules { return s.rules }

// Index indexes the records of object that c may view; see [NewIndex].
func (s *Service) Index(c schemas.Caller, object string) (*Index, error) {
	o, ok := s.reg.Object(object)
	if !ok {
		return nil, fmt.Errorf("object %q: %w", object, ErrNotFound)
	}
	return NewIndex(s.app, c, o, s.rules)
}
