package notify_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/notify"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// clock is a settable fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

type env struct {
	app    *core.BaseApp
	reg    *schemas.Registry
	n      *notify.Notifier
	sender *outbox.Sender
	smtp   *outboxtest.Server
	clock  *clock
}

// newEnv opens an app with Relata's migrations and the default model, an outbox aimed at a
// real SMTP server, and a notifier on a fake clock (no cron: tests call Tick).
func newEnv(t testing.TB) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	app.Settings().Meta.AppURL = "https://crm.example.com"
	srv := outboxtest.NewServer(t, outboxtest.Options{NoTLS: true})
	s, err := outbox.Register(app, outbox.Config{
		Registry: reg,
		SMTP:     outbox.SMTP{Host: srv.Host, Port: srv.Port, TLS: outbox.TLSNone, Timeout: 5 * time.Second},
		From:     "crm@relata.test",
		Getenv:   func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	c := &clock{now: time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC)}
	n, err := notify.Register(app, notify.Config{Registry: reg, Now: c.Now, NoCron: true})
	if err != nil {
		t.Fatal(err)
	}
	return &env{app: app, reg: reg, n: n, sender: s, smtp: srv, clock: c}
}

func (e *env) user(t testing.TB, email, zone string, prefs string) *core.Record {
	t.Helper()
	u, _ := schemastest.NewUser(t, e.app, email, "sales", "north")
	u.Set("timezone", zone)
	if prefs != "" {
		u.Set("notify_prefs", prefs)
	}
	if err := e.app.Save(u); err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) task(t testing.TB, owner *core.Record, subject string, due time.Time, done bool) *core.Record {
	t.Helper()
	return schemastest.MustCreate(t, e.app, "activities", map[string]any{
		"type": "task", "subject": subject, "due": due, "done": done, "owner": owner.Id,
	})
}

func (e *env) notifications(t testing.TB, user *core.Record) []*core.Record {
	t.Helper()
	recs, err := e.app.FindRecordsByFilter(notify.Collection, "user = {:u}", "created", 0, 0, map[string]any{"u": user.Id})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func (e *env) tick(t testing.TB, at time.Time) {
	t.Helper()
	e.clock.Set(at)
	if err := e.n.Tick(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) drain(t testing.TB) int {
	t.Helper()
	n, err := e.sender.Drain()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sqlTask is a task written with SQL (no record hooks): fast enough for thousands.
type sqlTask struct {
	ID    string    // default: a random id
	Due   time.Time // zero: no due time
	Owner string
	Done  bool
}

// writeTasks writes tasks in one transaction and returns their ids, in order.
func writeTasks(t testing.TB, app core.App, tasks []sqlTask) []string {
	t.Helper()
	stamp := time.Now().UTC().Format(types.DefaultDateLayout)
	ids := make([]string, len(tasks))
	rows := make([][]any, len(tasks))
	for i, tk := range tasks {
		ids[i] = tk.ID
		if ids[i] == "" {
			ids[i] = core.GenerateDefaultRandomId()
		}
		due := ""
		if !tk.Due.IsZero() {
			due = tk.Due.UTC().Format(types.DefaultDateLayout)
		}
		rows[i] = []any{ids[i], "task", fmt.Sprint("Task ", i), due, tk.Done, tk.Owner, stamp, stamp}
	}
	err := app.RunInTransaction(func(tx core.App) error {
		return schemas.InsertMany(tx, "activities", []string{"id", "type", "subject", "due", "done", "owner", "created", "updated"}, rows)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
