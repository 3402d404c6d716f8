package notify

import (
	"errors"
	"fmt"
	"sync"
	"time"
	_ "time/tzdata" // users' time zones work on hosts without a zoneinfo database

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// Config configures the notifier.
type Config struct {
	// Registry is the object model (which object holds tasks). Required.
	Registry *schemas.Registry
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// DigestHour is the local hour the morning digest is sent at. Default: 8.
	DigestHour int
	// DigestUntil is how many hours after DigestHour a missed digest (the server was down at
	// 08:00) is still sent. Default: 4.
	DigestUntil int
	// NoCron leaves the minute job out: the caller calls [Notifier.Tick] (tests).
	NoCron bool
	// Keep is how long notifications are kept; older ones are deleted by the minute job,
	// at most once an hour. Default: 90 days.
	Keep time.Duration
	// MaxEmailsPerHour is the most notification emails [Send] queues to one user in a rolling
	// hour (measured with Now), counted in the outbox: every email of hers marked notice (the
	// digest too) created in the hour before. Beyond it the notification is still created in
	// the app, when she wants it there, but not emailed. 0: DefaultMaxEmailsPerHour; negative
	// is refused.
	MaxEmailsPerHour int
}

// DefaultMaxEmailsPerHour is Config.MaxEmailsPerHour's default.
const DefaultMaxEmailsPerHour = 20

// capKey is where Register keeps the email cap in app.Store(), for [Send] (a transaction's
// app shares its store).
const capKey = "relata.notify.emailcap"

// emailCap is the cap on notification emails per user that [Send] applies.
type emailCap struct {
	max int
	now func() time.Time
}

// capOf is the email cap registered on app, or the defaults.
func capOf(app core.App) emailCap {
	if c, ok := app.Store().Get(capKey).(emailCap); ok {
		return c
	}
	return emailCap{max: DefaultMaxEmailsPerHour, now: time.Now}
}

// CronJob is the id of the minute job in PocketBase's cron.
const CronJob = "relata_notify"

// Notifier sends the timed notifications: reminders and digests. Build it with [Register].
type Notifier struct {
	app core.App
	cfg Config

	mu     sync.Mutex
	done   map[string]bool // keys handled in this process (reminders, digests of the day)
	purged time.Time       // when old notifications were last deleted
}

// Register adds the notifier to app: with the server, a cron job calls [Notifier.Tick]
// every minute.
func Register(app core.App, cfg Config) (*Notifier, error) {
	if cfg.Registry == nil {
		return nil, errors.New("notify: Config.Registry is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DigestHour == 0 {
		cfg.DigestHour = 8
	}
	if cfg.DigestUntil <= 0 {
		cfg.DigestUntil = 4
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 90 * 24 * time.Hour
	}
	if cfg.MaxEmailsPerHour < 0 {
		return nil, fmt.Errorf("notify: Config.MaxEmailsPerHour is %d: give a number of emails, or 0 for the default (%d)",
			cfg.MaxEmailsPerHour, DefaultMaxEmailsPerHour)
	}
	if cfg.MaxEmailsPerHour == 0 {
		cfg.MaxEmailsPerHour = DefaultMaxEmailsPerHour
	}
	app.Store().Set(capKey, emailCap{max: cfg.MaxEmailsPerHour, now: cfg.Now})
	n := &Notifier{app: app, cfg: cfg, done: map[string]bool{}}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.notify.routes",
		Func: func(se *core.ServeEvent) error {
			n.routes(se)
			return se.Next()
		},
	})
	if !cfg.NoCron {
		app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
			Id: "relata.notify.cron",
			Func: func(se *core.ServeEvent) error {
				se.App.Cron().MustAdd(CronJob, "* * * * *", func() {
					if err := n.Tick(); err != nil {
						se.App.Logger().Error("relata: notifications", "error", err)
					}
				})
				return se.Next()
			},
		})
	}
	return n, nil
}

// MustRegister is like [Register] but panics on error.
func MustRegister(app core.App, cfg Config) *Notifier {
	n, err := Register(app, cfg)
	if err != nil {
		panic(err)
	}
	return n
}

// Tick sends the reminders and digests due at the configured clock's now, and deletes
// notifications older than Config.Keep (at most once an hour).
func (n *Notifier) Tick() error {
	now := n.cfg.Now()
	return errors.Join(n.Reminders(now), n.Digests(now), n.purge(now))
}

func (n *Notifier) purge(now time.Time) error {
	n.mu.Lock()
	due := now.Sub(n.purged) >= time.Hour || now.Before(n.purged)
	if due {
		n.purged = now
	}
	n.mu.Unlock()
	if !due {
		return nil
	}
	_, err := n.app.DB().Delete(Collection, dbx.NewExp("[[created]] < {:cutoff}", dbx.Params{"cutoff": dbTime(now.Add(-n.cfg.Keep))})).Execute()
	if err != nil {
		return fmt.Errorf("delete old notifications: %w", err)
	}
	return nil
}

// once reports whether key is new in this process, and remembers it.
func (n *Notifier) once(key string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done[key] {
		return false
	}
	if len(n.done) > 100_000 {
		clear(n.done) // the database's unique keys still guard; this only saves look-ups
	}
	n.done[key] = true
	return true
}

func (n *Notifier) forget(key string) {
	n.mu.Lock()
	delete(n.done, key)
	n.mu.Unlock()
}
