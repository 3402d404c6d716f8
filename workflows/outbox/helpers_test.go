package outbox_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// clock is the real time plus a settable offset: emails are queued at the real time, and
// tests move the sender's time forward to reach retries.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func noEnv(string) string { return "" }

type env struct {
	app    *core.BaseApp
	reg    *schemas.Registry
	sender *outbox.Sender
	smtp   *outboxtest.Server
	clock  *clock
	srv    *httptest.Server // nil unless served
}

// testConfig aims a sender at srv with STARTTLS, trusting its certificate, with the
// environment ignored.
func testConfig(srv *outboxtest.Server, c *clock, cfg outbox.Config) outbox.Config {
	if cfg.SMTP.Host == "" {
		cfg.SMTP.Host, cfg.SMTP.Port = srv.Host, srv.Port
	}
	if cfg.SMTP.TLS == "" {
		cfg.SMTP.TLS = outbox.TLSStartTLS
	}
	if cfg.SMTP.RootCAs == nil {
		cfg.SMTP.RootCAs = srv.CertPool
	}
	if cfg.SMTP.Timeout == 0 {
		cfg.SMTP.Timeout = 5 * time.Second
	}
	if cfg.From == "" {
		cfg.From, cfg.FromName = "crm@relata.test", "Relata CRM"
	}
	cfg.Now = c.Now
	cfg.Getenv = noEnv
	return cfg
}

// newSender opens an app with Relata's migrations and registers a sender aimed at a fresh
// test SMTP server. Nothing is served and no worker runs: tests send with Drain.
func newSender(t testing.TB, opts outboxtest.Options, cfg outbox.Config) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	smtpSrv := outboxtest.NewServer(t, opts)
	c := &clock{}
	s, err := outbox.Register(app, testConfig(smtpSrv, c, cfg))
	if err != nil {
		t.Fatal(err)
	}
	return &env{app: app, sender: s, smtp: smtpSrv, clock: c}
}

// newServed is newSender with the object model applied and the HTTP API (unsubscribe,
// preview) served on loopback; unsubscribe links point there. The workers are stopped.
func newServed(t testing.TB, opts outboxtest.Options, cfg outbox.Config) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	smtpSrv := outboxtest.NewServer(t, opts)
	c := &clock{}
	cfg.Registry = reg
	s, err := outbox.Register(app, testConfig(smtpSrv, c, cfg))
	if err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	s.Stop()
	t.Cleanup(s.Stop)
	app.Settings().Meta.AppURL = srv.URL
	return &env{app: app, reg: reg, sender: s, smtp: smtpSrv, clock: c, srv: srv}
}

func (e *env) drain(t testing.TB) int {
	t.Helper()
	n, err := e.sender.Drain()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) enqueue(t testing.TB, m outbox.Message) *core.Record {
	t.Helper()
	rec, err := outbox.Enqueue(e.app, m)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// email re-reads an email record.
func (e *env) email(t testing.TB, id string) *core.Record {
	t.Helper()
	rec, err := e.app.FindRecordById(outbox.Collection, id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// jsonString encodes v as JSON without escaping <, > and &, so tests can look for markup.
func jsonString(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.String()
}
