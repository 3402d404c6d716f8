package campaigns_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/insights"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/campaigns"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

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

type env struct {
	app      *core.BaseApp
	reg      *schemas.Registry
	sender   *outbox.Sender
	svc      *campaigns.Service
	smtp     *outboxtest.Server
	srv      *httptest.Server
	clock    *clock
	boss     *core.Record
	bossTok  string
	alice    *core.Record
	aliceTok string
}

// newEnv: a real app with the default objects, segments, the outbox aimed at a go-smtp sink
// and campaigns, served on loopback; no worker runs (tests call Step and Drain).
func newEnv(t testing.TB) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	smtpSrv := outboxtest.NewServer(t, outboxtest.Options{NoTLS: true})
	c := &clock{}
	sender, err := outbox.Register(app, outbox.Config{Registry: reg,
		SMTP: outbox.SMTP{Host: smtpSrv.Host, Port: smtpSrv.Port, TLS: outbox.TLSNone, Timeout: 5 * time.Second},
		From: "news@relata.test", BatchSize: 200, Now: c.Now, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	segments.MustRegister(app, segments.Config{Interval: -1})
	insights.MustRegister(app, insights.Config{Registry: reg}) // timelines
	svc, err := campaigns.Register(app, campaigns.Config{Registry: reg, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	sender.Stop()
	svc.Stop()
	app.Settings().Meta.AppURL = srv.URL
	e := &env{app: app, reg: reg, sender: sender, svc: svc, smtp: smtpSrv, srv: srv, clock: c}
	e.boss, e.bossTok = schemastest.NewUser(t, app, "boss@example.com", "manager", "")
	e.alice, e.aliceTok = schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	return e
}

func (e *env) template(t testing.TB, html string) {
	t.Helper()
	schemastest.MustCreate(t, e.app, outbox.TemplatesCollection, map[string]any{
		"name": "spring", "category": "marketing", "object": "contacts",
		"subject": "Spring offer for {{.record.full_name}}", "html": html})
}

func (e *env) campaign(t testing.TB, seg *core.Record, extra map[string]any) *core.Record {
	t.Helper()
	v := map[string]any{"name": "Spring", "template": "spring", "segment": seg.Id, "owner": e.boss.Id, "status": "draft"}
	for k, x := range extra {
		v[k] = x
	}
	return schemastest.MustCreate(t, e.app, campaigns.Collection, v)
}

// run steps the campaign worker until it has nothing to do now, then sends the outbox.
func (e *env) run(t testing.TB) {
	t.Helper()
	for i := 0; ; i++ {
		busy, err := e.svc.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !busy {
			break
		}
		if i > 10000 {
			t.Fatal("the campaign worker never settles")
		}
	}
	if _, err := e.sender.Drain(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) report(t testing.TB, id string) campaigns.Report {
	t.Helper()
	var r campaigns.Report
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/campaigns/"+id+"/report", e.bossTok, nil, &r); code != 200 {
		t.Fatalf("report = %d", code)
	}
	return r
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t testing.TB, u string) (int, string) {
	t.Helper()
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

func post(t testing.TB, u, body string) int {
	t.Helper()
	res, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func hrefs(html string) []string {
	var out []string
	for {
		i := strings.Index(html, `href="`)
		if i < 0 {
			return out
		}
		html = html[i+6:]
		j := strings.IndexByte(html, '"')
		out = append(out, strings.ReplaceAll(html[:j], "&amp;", "&"))
		html = html[j:]
	}
}
