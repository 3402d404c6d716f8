package campaigns

import (
	"errors"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// Collection names.
const (
	Collection           = "campaigns"
	RecipientsCollection = "campaign_recipients"
	EventsCollection     = "campaign_events"
)

// Campaign statuses.
const (
	StatusDraft     = "draft"
	StatusScheduled = "scheduled"
	StatusSending   = "sending"
	StatusPaused    = "paused"
	StatusSent      = "sent"
	StatusCancelled = "cancelled"
)

// Recipient statuses and skip reasons.
const (
	RecipientPending = "pending"
	RecipientQueued  = "queued"
	RecipientSkipped = "skipped"

	ReasonNoAddress  = "no_address"
	ReasonDoNotEmail = "do_not_email"
	ReasonSuppressed = "suppressed"
	ReasonNoConsent  = "no_consent"
	ReasonCancelled  = "cancelled"
)

// DefaultConsentPurpose is the consent purpose recipients need unless the campaign names one.
const DefaultConsentPurpose = "marketing_email"

// Config configures campaigns.
type Config struct {
	// Registry is the object model (the won stages of deals for the report); required.
	Registry *schemas.Registry
	// Tick is how often the worker starts due campaigns and queues recipients. Default: 1s.
	Tick time.Duration
	// Batch is how many recipients one transaction resolves or queues. Default: 500.
	Batch int
	// TrackingSecret signs tracking links (env-free; default: a random secret generated once
	// and kept in relata_secrets as "campaign-tracking").
	TrackingSecret string
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// Service runs campaigns for one app. Build it with [Register].
type Service struct {
	app core.App
	cfg Config

	mu      sync.Mutex
	running bool
	stop    chan struct{}
	wake    chan struct{}
	wg      sync.WaitGroup
	stepMu  sync.Mutex
	cursors map[string]*resolveCursor // campaigns being resolved, guarded by stepMu

	secretMu sync.Mutex
	secret   []byte
}

// Register adds campaigns to app: the worker starts with the server and stops when it
// terminates; the routes POST /api/relata/campaigns/{id}/{send,pause,resume,cancel},
// GET /api/relata/campaigns/{id}/report and the tracking routes GET /t/c/{token} and
// GET /t/o/{token} are served.
func Register(app core.App, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("campaigns: Config.Registry is required")
	}
	s := New(app, cfg)
	s.bindEngagement()
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.campaigns.start",
		Priority: -70, // after the object model and the outbox
		Func: func(se *core.ServeEvent) error {
			s.routes(se)
			s.Start()
			return se.Next()
		},
	})
	app.OnRecordCreate(Collection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.campaigns.defaults",
		Func: func(e *core.RecordEvent) error {
			if e.Record.GetString("status") == "" {
				e.Record.Set("status", StatusDraft)
			}
			return e.Next()
		},
	})
	app.OnRecordCreate(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.campaigns.check-create", Func: checkCampaign})
	app.OnRecordUpdate(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.campaigns.check-update", Func: checkCampaign})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id: "relata.campaigns.stop",
		Func: func(te *core.TerminateEvent) error {
			s.Stop()
			return te.Next()
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

// New returns a service for app without binding routes or starting the worker (tests call
// [Service.Step]).
func New(app core.App, cfg Config) *Service {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{app: app, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Start starts the worker.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return
	}
	s.running = true
	s.stop = make(chan struct{})
	s.wg.Add(1)
	go s.worker(s.stop)
}

// Stop stops the worker and waits for its step to finish.
func (s *Service) Stop() {
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

// Wake makes the worker look for work at once.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) worker(stop <-chan struct{}) {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		case <-s.wake:
		}
		for {
			busy, err := s.step(stop)
			if err != nil {
				s.app.Logger().Error("relata: campaigns", "error", err)
			}
			if !busy || err != nil {
				break
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}
}
