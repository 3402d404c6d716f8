package forms

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// Collection names of the forms (created by Relata's migrations).
const (
	// SubmissionsCollection logs every accepted submission; hooks turn each new record into
	// the "form submitted" workflow trigger.
	SubmissionsCollection = "form_submissions"
	// ConsentsCollection holds the consents given on forms.
	ConsentsCollection = "consents"
	// BlocksCollection counts blocked submissions per form, reason and day.
	BlocksCollection = "relata_form_blocks"
)

// Values of the action field of form_submissions.
const (
	ActionCreated = "created"
	ActionUpdated = "updated"
)

// ContactsObject is the object whose records consents link to with their contact relation.
const ContactsObject = "contacts"

// Config configures the forms.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// Dirs are directories of form definitions (*.json), read when the server starts. A slug
	// may be defined once across them. Default: none (no forms).
	Dirs []string
	// Secret signs the tokens that measure the fill time (env RELATA_FORMS_SECRET). Default: a
	// random secret generated once and stored in the relata_secrets collection.
	Secret string
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// Service serves the forms: the pages at /forms/{slug}, the JSON endpoint at
// /api/relata/forms/{slug}, and the submissions. Build it with [Register].
type Service struct {
	app core.App
	reg *schemas.Registry
	cfg Config

	mu       sync.RWMutex
	forms    map[string]*Form
	fromFile map[string]bool // slugs of file forms (they take precedence over web forms)
	compiled map[string]*compiled

	limiter *limiter

	secretMu sync.Mutex
	secret   []byte
}

// compiled is a form bound to the current definition of its object.
type compiled struct {
	form      *Form
	obj       *schemas.Object
	inputs    []*input
	schemaDoc map[string]any
	schema    *jsonschema.Schema
	maxBody   int64
	captures  captureList
}

// Register adds the forms to app and, if rootCmd is set, the "form" command. When the server
// starts (after the object model is in sync), the definitions of Config.Dirs are loaded and
// checked against the live model — the server refuses to start on an invalid one — and the
// routes are added.
func Register(app core.App, rootCmd *cobra.Command, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("forms: Config.Registry is required")
	}
	if cfg.Secret == "" {
		cfg.Secret = os.Getenv("RELATA_FORMS_SECRET")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{app: app, reg: cfg.Registry, cfg: cfg, forms: map[string]*Form{}, compiled: map[string]*compiled{}, limiter: newLimiter()}
	s.bindWebForms()
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.forms.start",
		Priority: -40, // after the object model is in sync and example data is seeded
		Func: func(se *core.ServeEvent) error {
			if err := s.Load(); err != nil {
				return err
			}
			if err := ensureContactRelation(app); err != nil {
				return fmt.Errorf("forms: %w", err)
			}
			s.routes(se)
			return se.Next()
		},
	})
	if rootCmd != nil {
		rootCmd.AddCommand(s.newCommand())
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

// Load (re)reads the definitions of Config.Dirs and checks them against the live object
// model. On any problem nothing changes and the error lists every problem ([schemas.Errors],
// file names joined to their directory).
func (s *Service) Load() error {
	forms, err := loadDirs(s.cfg.Dirs, s.reg.Objects())
	if err != nil {
		return err
	}
	if err := s.checkLoaded(forms); err != nil {
		return err
	}
	web, err := s.loadWebForms(forms)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forms = map[string]*Form{}
	s.fromFile = map[string]bool{}
	for _, f := range forms {
		s.forms[f.Slug] = f
		s.fromFile[f.Slug] = true
	}
	for _, f := range web {
		s.forms[f.Slug] = f
	}
	s.compiled = map[string]*compiled{}
	return nil
}

func loadDirs(dirs []string, objects []*schemas.Object) ([]*Form, error) {
	var (
		all  []*Form
		errs schemas.Errors
		from = map[string]string{}
	)
	for _, dir := range dirs {
		forms, err := Load(os.DirFS(dir), objects)
		var ferrs schemas.Errors
		switch {
		case errors.As(err, &ferrs):
			for _, e := range ferrs {
				e.File = filepath.Join(dir, e.File)
			}
			errs = append(errs, ferrs...)
			continue
		case err != nil:
			return nil, fmt.Errorf("forms in %s: %w", dir, err)
		}
		for _, f := range forms {
			f.file = filepath.Join(dir, f.file)
			if prev, dup := from[f.Slug]; dup {
				errs = append(errs, &schemas.Error{File: f.file, Pointer: "/slug",
					Message: fmt.Sprintf("slug %q is already defined in %s", f.Slug, prev)})
				continue
			}
			from[f.Slug] = f.file
			all = append(all, f)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, fmt.Errorf("form definitions:\n%w", err)
	}
	return all, nil
}

// Forms returns the loaded forms, sorted by slug. They must not be modified.
func (s *Service) Forms() []*Form {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := slices.Collect(maps.Values(s.forms))
	slices.SortFunc(out, func(a, b *Form) int { return strings.Compare(a.Slug, b.Slug) })
	return out
}

// Form returns the form with the given slug.
func (s *Service) Form(slug string) (*Form, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.forms[slug]
	return f, ok
}

// Errors of lookup.
var (
	errNoForm      = errors.New("no such form")
	errUnavailable = errors.New("the form is unavailable")
)

// lookup returns the form bound to the live definition of its object, recompiling it when
// the object changed (a dashboard edit refreshes the model with new objects).
func (s *Service) lookup(slug string) (*compiled, error) {
	s.mu.RLock()
	f, c := s.forms[slug], s.compiled[slug]
	s.mu.RUnlock()
	if f == nil {
		return nil, errNoForm
	}
	obj, ok := s.reg.Object(f.Object)
	if !ok {
		s.app.Logger().Error("relata: form names a missing object", "form", slug, "object", f.Object)
		return nil, errUnavailable
	}
	if c != nil && c.obj == obj {
		return c, nil
	}
	c, errs := compile(f, obj, s.reg.Objects())
	if len(errs) > 0 {
		s.app.Logger().Error("relata: form no longer fits its object", "form", slug, "error", errs.Error())
		return nil, errUnavailable
	}
	s.mu.Lock()
	s.compiled[slug] = c
	s.mu.Unlock()
	return c, nil
}

// ensureContactRelation adds the contact relation to the consents collection once the
// contacts object exists (a migration cannot: objects are created after migrations run).
func ensureContactRelation(app core.App) error {
	consents, err := app.FindCollectionByNameOrId(ConsentsCollection)
	if err != nil {
		return fmt.Errorf("the %s collection is missing (did the migrations run?): %w", ConsentsCollection, err)
	}
	if consents.Fields.GetByName("contact") != nil {
		return nil
	}
	contacts, err := app.FindCollectionByNameOrId(ContactsObject)
	if err != nil {
		return nil // no contacts object: consents link by object and record_id only
	}
	consents.Fields.Add(&core.RelationField{Name: "contact", CollectionId: contacts.Id, MaxSelect: 1, CascadeDelete: true,
		Help: "The contact who gave the consent; deleting the contact deletes their consents."})
	consents.AddIndex("idx_consents_contact", false, "`contact`", "")
	return app.Save(consents)
}
