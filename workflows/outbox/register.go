package outbox

import (
	"context"
	"errors"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// Sender delivers queued emails. Build it with [Register].
type Sender struct {
	app core.App
	cfg Config

	mu      sync.Mutex
	running bool
	stop    chan struct{}
	wg      sync.WaitGroup
	wake    chan struct{}

	secretMu sync.Mutex
	secret   []byte
	verp     VERPKeys // the key of return addresses' tags and Message-IDs (verp.go)

	warned atomic.Bool // "no SMTP host" was logged
}

// Register adds email delivery to app: the sender workers start with the server and stop
// when it terminates; the routes GET/POST /unsubscribe/{token} and
// POST /api/relata/email-templates/{name}/preview are served; templates are checked whenever
// an email_templates record is saved; the emails API hides users' hidden addresses from
// those who may not read them (see [HiddenRecipient]).
func Register(app core.App, cfg Config) (*Sender, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sender{app: app, cfg: cfg, wake: make(chan struct{}, 1)}
	app.Store().Set(senderKey, s)
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.outbox.start",
		Priority: -80, // after the object model is in sync
		Func: func(se *core.ServeEvent) error {
			// The VERP key made now, not at the first send: emails queued before it are
			// taken back by their untagged return addresses (inbox), so that window stays
			// as short as the upgrade.
			if _, _, err := s.verp.Get(se.App); err != nil {
				return err
			}
			s.routes(se)
			s.Start()
			return se.Next()
		},
	})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id: "relata.outbox.stop",
		Func: func(te *core.TerminateEvent) error {
			s.Stop()
			return te.Next()
		},
	})
	s.bindSystemMail(app)
	bindHiddenRecipients(app)
	app.OnRecordCreate(TemplatesCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.outbox.check-template-create", Func: checkTemplate})
	app.OnRecordUpdate(TemplatesCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.outbox.check-template-update", Func: checkTemplate})
	app.OnRecordCreate(SuppressionsCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.outbox.suppression-create", Func: normalizeSuppression})
	app.OnRecordUpdate(SuppressionsCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.outbox.suppression-update", Func: normalizeSuppression})
	app.OnRecordAfterCreateSuccess(Collection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.outbox.wake",
		Func: func(e *core.RecordEvent) error {
			s.Wake()
			return e.Next()
		},
	})
	return s, nil
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, cfg Config) *Sender {
	s, err := Register(app, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Start starts the sender workers (the server does this; tests may too).
func (s *Sender) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return
	}
	s.running = true
	s.stop = make(chan struct{})
	for i := 0; i < s.cfg.Workers; i++ {
		s.wg.Add(1)
		go s.worker(s.stop)
	}
}

// Stop stops the workers and waits for the batches they send to finish.
func (s *Sender) Stop() {
	s.mu.Lock()
	if !s.running {
		s.mu.Unlock()
		return
	}
	s.running = false
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
}

// Running reports whether the workers run.
func (s *Sender) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Wake tells idle workers that emails were queued.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Sender) worker(stop <-chan struct{}) {
	defer s.wg.Done()
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("relata", "outbox sender"))) // CPU profiles tell the workers apart
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	for {
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := s.SendDue()
			if err != nil {
				s.app.Logger().Error("relata: email sender", "error", err)
				break
			}
			if n == 0 {
				break
			}
			s.Wake() // let another worker look for more
		}
		select {
		case <-stop:
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// Drain sends due emails batch after batch until none is left, and reports how many it
// handled (sent, failed, suppressed or put back for a retry). Tests use it; the server's
// workers do the same continuously.
func (s *Sender) Drain() (int, error) {
	total := 0
	for {
		n, err := s.SendDue()
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// normalizeSuppression stores suppressed addresses in lower case, so lookups match.
func normalizeSuppression(e *core.RecordEvent) error {
	addr := strings.ToLower(strings.TrimSpace(e.Record.GetString("email")))
	e.Record.Set("email", addr)
	if e.Record.GetString("reason") == "" {
		e.Record.Set("reason", "manual")
	}
	return e.Next()
}

// checkTemplate refuses a template that does not parse (or, with an object, names fields the
// object does not have), with the line of the problem.
func checkTemplate(e *core.RecordEvent) error {
	t := templateOf(e.Record)
	if err := t.Check(e.App); err != nil {
		var te *TemplateError
		if errors.As(err, &te) {
			return validation.Errors{te.Part: validation.NewError("invalid_template", te.Error())}
		}
		return validation.Errors{"object": validation.NewError("invalid_template", err.Error())}
	}
	return e.Next()
}
