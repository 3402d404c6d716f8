package scoring

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/cron"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// Config configures win-probability scoring.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// Schedule is the cron expression of the automatic retraining of every object with a
	// won stage (default "30 3 * * 1": Mondays at 03:30 UTC); "-" turns it off.
	Schedule string
	// Options tune training (see [Options] for the defaults).
	Options Options
	// RulesDir holds the rule-based score definitions (*.json; see [RuleSet]) applied every
	// day at 02:15 UTC and by [Service.Rescore] (default: the "scores" folder of the object
	// definitions directory, when there is one).
	RulesDir string
}

// Service trains, stores and applies the models of one app.
type Service struct {
	app      core.App
	reg      *schemas.Registry
	opts     Options
	rulesDir string

	queue queue // records to score again after activity writes (follow.go)

	// checking is set by the scoring commands: definitions that do not load are theirs to report.
	checking atomic.Bool

	mu         sync.RWMutex
	rules      []*RuleSet                 // loaded with the object model (loadRules)
	loadedFrom string                     // their folder
	backtests  map[string]cachedBacktest  // by object and the caller's records
	flights    map[string]*backtestFlight // backtests being computed, by the same key
	computing  map[string]bool            // users whose backtest is being computed
	slots      chan struct{}              // bounds the backtests computed at once
	backtested atomic.Int64               // backtests computed (for tests)
	training   map[string]bool            // objects whose model is being trained here (TrainAndSave)
	trainHook  func(object string)        // tests: called when a training has begun
	clock      func() time.Time           // tests: the time of the training leases (nil: time.Now)
}

// Register adds the "score" command to rootCmd (when set), the routes under
// /api/relata/score and /api/relata/forecast (see the package doc) and the scheduled
// retraining to app, and returns the service.
func Register(app core.App, rootCmd *cobra.Command, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("scoring: Config.Registry is required")
	}
	s := &Service{app: app, reg: cfg.Registry, opts: cfg.Options, rulesDir: cfg.RulesDir}
	if rootCmd != nil {
		rootCmd.AddCommand(s.command())
	}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.scoring.routes",
		Func: func(e *core.ServeEvent) error {
			s.routes(e)
			return e.Next()
		},
	})
	// The score definitions are loaded with the object model, by `serve` and by every command
	// that loads it (import, reassign, merge …), so the records their writes touch are scored.
	s.reg.OnLoad(s.loadRules)
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.scoring.rules",
		Priority: -40, // after the object model is in sync
		Func: func(e *core.ServeEvent) error {
			if s.rulesFrom() != "" {
				if err := e.App.Cron().Add("relata.scoring.rules", "15 2 * * *", func() { s.applyRules(e.App) }); err != nil {
					return err
				}
			}
			return e.Next()
		},
	})
	// A save of a record of a scored object sets its score and grade then and there: fit
	// rules on its values, behaviour rules on its activities so far; a write of an activity
	// (or campaign event) scores the records it concerns again (bindFollow). The daily run
	// keeps behaviour points decaying and catches records written without a record save.
	rescore := func(e *core.RecordEvent) error {
		if e.Context != nil && e.Context.Value(scoredKey{}) != nil {
			return e.Next() // a save of RunRules: scored for it
		}
		if err := s.Rescore(e.App, e.Record); err != nil {
			// A score is advice: it never stops a save.
			e.App.Logger().Warn("scoring: rescore on save", "object", e.Record.Collection().Name, "record", e.Record.Id, "error", err)
		}
		return e.Next()
	}
	app.OnRecordCreate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.scoring.rescore-create", Func: rescore})
	app.OnRecordUpdate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.scoring.rescore-update", Func: rescore})
	s.bindFollow(app) // and when an activity it counts is written
	schedule := cfg.Schedule
	if schedule == "" {
		schedule = "30 3 * * 1"
	}
	if schedule != "-" {
		if _, err := cron.NewSchedule(schedule); err != nil {
			return nil, fmt.Errorf("scoring: Config.Schedule %q: %w", schedule, err)
		}
		app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
			Id: "relata.scoring.schedule",
			Func: func(e *core.ServeEvent) error {
				if err := e.App.Cron().Add("relata.scoring.retrain", schedule, func() { s.RetrainAll(e.App) }); err != nil {
					return err
				}
				return e.Next()
			},
		})
	}
	return s, nil
}

// rulesDirectory is the folder of the score definitions: Config.RulesDir, else "scores"
// beside the object definitions; "" when there is none.
func (s *Service) rulesDirectory() string {
	dir := s.rulesDir
	if dir == "" && s.reg.Dir() != "" {
		dir = filepath.Join(s.reg.Dir(), "scores")
	}
	if st, err := os.Stat(dir); dir == "" || err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// loadRules (re)reads the score definitions; a definition that does not check stops what
// loads the model (serve, a command) with its file, line and JSON pointer. The scoring
// commands, which check definitions themselves, only log it.
func (s *Service) loadRules() error {
	dir := s.rulesDirectory()
	var sets []*RuleSet
	if dir != "" {
		var err error
		if sets, err = LoadRules(os.DirFS(dir), s.reg); err != nil {
			err = fmt.Errorf("scores in %s:\n%w", dir, err)
			if s.checking.Load() {
				s.app.Logger().Warn("scoring: the score definitions do not load", "error", err)
				return nil
			}
			return err
		}
	}
	s.mu.Lock()
	s.rules, s.loadedFrom = sets, dir
	s.mu.Unlock()
	return nil
}

// rulesFrom is the folder the loaded definitions came from ("" when none).
func (s *Service) rulesFrom() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.loadedFrom
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, rootCmd *cobra.Command, cfg Config) *Service {
	s, err := Register(app, rootCmd, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// ErrTrainingRunning is returned by [Service.TrainAndSave] while a training of the same object
// runs, in this process or in another on the same data directory.
var ErrTrainingRunning = errors.New("a training of this object is running: its model will be the next version")

// TrainAndSave evaluates and trains the model of object on its closed records and stores it
// as a new version. With fewer than [MinClosed] closed records it stores nothing and
// returns the report saying so (Fallback), and version 0.
//
// One training of an object runs at a time, across processes: while one runs (a second
// admin's click, a retry, the schedule, `relata score train` beside the server, a second
// server on the same data directory), another of the same object returns
// [ErrTrainingRunning] at once, saying which process holds it and until when, rather than
// train the same records again beside it. The authority is a lease in the database
// (_relata_training_leases), taken in one statement of its own, renewed every 30 seconds
// while the training runs and deleted at the end; a process that crashed leaves a lease that
// expires by itself after 2 minutes. The model is stored in one transaction with a last
// renewal: a training whose lease was taken over in the meantime stores nothing
// ([ErrLeaseLost]). app must not be a transaction: the training reads on the read pool.
func (s *Service) TrainAndSave(app core.App, object string) (*Report, int, error) {
	if app.IsTransactional() {
		return nil, 0, fmt.Errorf("%s: a training runs outside any transaction (its lease and its store are transactions of their own)", object)
	}
	s.mu.Lock()
	if s.training[object] {
		s.mu.Unlock()
		return nil, 0, &runningError{object: object} // held here: no need to ask the database
	}
	if s.training == nil {
		s.training = map[string]bool{}
	}
	s.training[object] = true
	hook := s.trainHook
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.training, object)
		s.mu.Unlock()
	}()
	l, err := s.acquire(app, object)
	if err != nil {
		return nil, 0, err
	}
	defer l.release(app)
	if hook != nil {
		hook(object)
	}
	d, err := Load(app, s.reg, object)
	if err != nil {
		return nil, 0, err
	}
	rep, err := Evaluate(d, s.opts)
	if err != nil {
		return nil, 0, err
	}
	if rep.Fallback != "" {
		return rep, 0, nil
	}
	m, err := TrainAll(d, s.opts)
	if err != nil {
		return nil, 0, err
	}
	var v int
	err = app.RunInTransaction(func(tx core.App) error {
		if err := l.renew(tx); err != nil {
			return err // taken over: the other training stores its model
		}
		var err error
		v, err = Save(tx, m, rep.Closed, rep)
		return err
	})
	if err != nil {
		return rep, 0, err
	}
	return rep, v, nil
}

// RetrainAll retrains every object that has a pipeline, and every lead object, as the schedule does, and logs
// what it did.
func (s *Service) RetrainAll(app core.App) {
	for _, o := range s.reg.Objects() {
		if !Scorable(o) {
			continue
		}
		rep, v, err := s.TrainAndSave(app, o.Name)
		switch {
		case errors.Is(err, ErrTrainingRunning):
			app.Logger().Info("scoring: a training is already running; skipped", "object", o.Name)
		case err != nil:
			app.Logger().Error("scoring: retrain failed", "object", o.Name, "error", err)
		case v == 0:
			app.Logger().Info("scoring: no model", "object", o.Name, "reason", rep.Fallback)
		default:
			app.Logger().Info("scoring: retrained", "object", o.Name, "version", v, "auc", rep.Model.AUC)
		}
	}
}

// applyRules recomputes every rule-based score (decay moves scores without any change).
func (s *Service) applyRules(app core.App) {
	s.mu.RLock()
	sets := s.rules
	s.mu.RUnlock()
	for _, rs := range sets {
		run, err := RunRules(app, s.reg, rs, RunOptions{Apply: true})
		if err != nil {
			// Logged with what was done: a record that cannot be saved does not stop the rest.
			app.Logger().Error("scoring: rule-based scores failed", "score", rs.Name, "error", err)
		}
		if run != nil {
			app.Logger().Info("scoring: rule-based scores", "score", rs.Name, "records", run.Records, "updated", run.Changed, "failed", run.Failed)
		}
	}
}

// Rescore sets the score and grade fields of rec from the loaded rule sets of its object,
// without saving: Register calls it in every record save (create and update), before the
// validation, so the score changes with the record. It does nothing when no rule set
// scores the object.
func (s *Service) Rescore(app core.App, rec *core.Record) error {
	_, err := s.rescore(app, rec)
	return err
}

// rescore is Rescore, and reports whether a score or grade of rec changed.
func (s *Service) rescore(app core.App, rec *core.Record) (bool, error) {
	s.mu.RLock()
	sets := s.rules
	s.mu.RUnlock()
	name := rec.Collection().Name
	if !slices.ContainsFunc(sets, func(rs *RuleSet) bool { return rs.Object == name }) {
		return false, nil // every save passes here: most objects have no score
	}
	o, ok := s.reg.Object(name)
	if !ok {
		return false, nil
	}
	scores, err := s.ExplainRules(app, o, rec)
	if err != nil {
		return false, err
	}
	changed := false
	for _, sc := range scores {
		if sc.Field != "" && rec.GetFloat(sc.Field) != sc.Score {
			rec.Set(sc.Field, sc.Score)
			changed = true
		}
		if sc.GradeField != "" && rec.GetString(sc.GradeField) != sc.Grade {
			rec.Set(sc.GradeField, sc.Grade)
			changed = true
		}
	}
	return changed, nil
}

// activitiesOf reads what behaviour rules count for rec: its done activities and, for a
// contact, its campaign events, oldest first. A record being created has none yet.
func (s *Service) activitiesOf(app core.App, o *schemas.Object, rec *core.Record) ([]Activity, error) {
	return s.activitiesAs(app, o, rec, nil)
}

// activitiesAs is activitiesOf with only what as may open (as nil: everything).
func (s *Service) activitiesAs(app core.App, o *schemas.Object, rec *core.Record, as *schemas.Caller) ([]Activity, error) {
	if rec.Id == "" || rec.IsNew() {
		return nil, nil
	}
	byID := map[string]*Record{rec.Id: {ID: rec.Id}}
	if err := loadActivities(app, s.reg, o.Name, []string{rec.Id}, byID, true, as); err != nil {
		return nil, err
	}
	if err := loadEngagement(app, o.Name, []string{rec.Id}, byID, as); err != nil {
		return nil, err
	}
	return byID[rec.Id].Activities, nil
}

// RuleExplanation is a record's rule-based score as computed now, with the rules that make it.
type RuleExplanation struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Field       string  `json:"field,omitempty"`
	GradeField  string  `json:"gradeField,omitempty"`
	Score       float64 `json:"score"`
	Grade       string  `json:"grade"`
	Hits        []Hit   `json:"hits"`
}

// ExplainRules scores rec with every loaded rule set of its object, as its next save would,
// with the rules that contributed. It reads as the server (every activity, as the stored
// score counts them); callers serving a user check that the user may view rec first.
func (s *Service) ExplainRules(app core.App, o *schemas.Object, rec *core.Record) ([]RuleExplanation, error) {
	out, _, err := s.explainRules(app, o, rec, s.ruleSets(), nil, time.Now())
	return out, err
}

// ruleSets returns the loaded rule sets.
func (s *Service) ruleSets() []*RuleSet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rules
}

// ExplainRulesAs is [Service.ExplainRules] for c, who may view rec: the scores and grades are
// the same (the server's, as stored on the record), but the hits of behaviour rules count
// only the activities and campaign events c may open; what the others add is one hit,
// "activities you may not open" (in lang), so that nothing tells c which kind of hidden
// activity happened, nor when.
func (s *Service) ExplainRulesAs(app core.App, c schemas.Caller, o *schemas.Object, rec *core.Record, lang string) ([]RuleExplanation, error) {
	now, sets := time.Now(), s.ruleSets()
	out, acts, err := s.explainRules(app, o, rec, sets, nil, now)
	if err != nil || len(out) == 0 || c.IsSuperuser() {
		return out, err
	}
	listed, err := s.activitiesAs(app, o, rec, &c)
	if err != nil {
		return nil, err
	}
	if len(listed) == len(acts) {
		return out, nil
	}
	if listed == nil {
		listed = []Activity{} // none (nil would read them all)
	}
	seen, _, err := s.explainRules(app, o, rec, sets, listed, now)
	if err != nil {
		return nil, err
	}
	label := wordsFor(lang).hidden
	for i := range out {
		out[i].Hits = seen[i].Hits
		if rest := math.Round((out[i].Score-seen[i].Score)*10) / 10; rest != 0 {
			out[i].Hits = append(out[i].Hits, Hit{Rule: label, Points: rest, Hidden: true})
		}
	}
	return out, nil
}

// explainRules scores rec at now with every rule set of sets that scores its object, from
// acts (nil: every activity of rec, read and returned).
func (s *Service) explainRules(app core.App, o *schemas.Object, rec *core.Record, sets []*RuleSet, acts []Activity, now time.Time) ([]RuleExplanation, []Activity, error) {
	out := []RuleExplanation{}
	for _, rs := range sets {
		if rs.Object != o.Name {
			continue
		}
		if acts == nil {
			var err error
			if acts, err = s.activitiesOf(app, o, rec); err != nil {
				return nil, nil, err
			}
			if acts == nil {
				acts = []Activity{}
			}
		}
		sc, err := rs.Score(rec.Id, Values(o, rec), acts, now)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, RuleExplanation{Name: rs.Name, Description: rs.Description, Field: rs.Field,
			GradeField: rs.GradeField, Score: sc.Score, Grade: sc.Grade, Hits: sc.Hits})
	}
	return out, acts, nil
}

// SetRules replaces the loaded rule sets (for tests and callers that load them elsewhere).
func (s *Service) SetRules(sets []*RuleSet) {
	s.mu.Lock()
	s.rules = sets
	s.mu.Unlock()
}
