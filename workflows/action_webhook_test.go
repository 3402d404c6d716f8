package workflows_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// hookRequest is one request a hookServer received.
type hookRequest struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// hookServer is a webhook receiver on loopback. answer writes the response to the n-th
// request (from 1).
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []hookRequest
}

func newHookServer(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *hookServer {
	t.Helper()
	s := &hookServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, hookRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(s.reqs)
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		answer(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookServer) requests() []hookRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hookRequest(nil), s.reqs...)
}

// verifySignature checks a request the way a receiver does: HMAC-SHA256 of
// "<X-Relata-Timestamp>.<body>" keyed with the secret, compared in constant time.
func verifySignature(secret string, h http.Header, body []byte) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(h.Get("X-Relata-Timestamp") + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(want), []byte(h.Get("X-Relata-Signature")))
}

// webhookFlow is a workflow on new contacts whose actions are given.
func webhookFlow(name, actions string) string {
	return `{"name": "` + name + `", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"}, "actions": [` + actions + `]}`
}

func webhookAction(url, extra string) string {
	s := `{"type": "webhook", "url": "` + url + `"`
	if extra != "" {
		s += ", " + extra
	}
	return s + "}"
}

func (e *env) run(t *testing.T, id string) *core.Record {
	t.Helper()
	r, err := e.app.FindRecordById(workflows.RunsCollection, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) step(t *testing.T, runID, path string) *core.Record {
	t.Helper()
	s, err := e.app.FindFirstRecordByFilter(workflows.StepsCollection, "run = {:run} && path = {:path}", map[string]any{"run": runID, "path": path})
	if err != nil {
		t.Fatalf("step %s of run %s: %v", path, runID, err)
	}
	return s
}

func TestWebhookDeliversSignedPayload(t *testing.T) {
	const secret = "s3cr3t"
	srv := newHookServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !verifySignature(secret, r.Header, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"received": true}`)
	})
	e := newEnv(t, workflows.Config{WebhookAllow: []string{"127.0.0.1"}})
	if err := schemas.SetSecret(e.app, "crm-hook", secret); err != nil {
		t.Fatal(err)
	}
	e.save(t, webhookFlow("notify", webhookAction(srv.URL+"/hook", `"secret": {"ref": "crm-hook"},
		"headers": {"Authorization": "Bearer abc", "X-Tenant": "acme"},
		"body": {"name": "=record.full_name", "contact": {"email": "=record.email", "vip": true}, "tags": ["=record.source", "crm"]}`)))
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada", "email": "ada@example.com", "source": "website"})
	e.drain(t)

	runs := e.runs(t, "")
	if len(runs) != 1 || runs[0].GetString("status") != workflows.StatusSucceeded {
		t.Fatalf("runs = %v", jsonOf(runs))
	}
	run := runs[0]
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests; want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/hook" {
		t.Errorf("request = %s %s; want POST /hook", r.Method, r.Path)
	}
	wantHeaders := map[string]string{
		"Content-Type":       "application/json",
		"User-Agent":         "Relata-Webhook",
		"Idempotency-Key":    run.Id + ":0",
		"X-Relata-Timestamp": strconv.FormatInt(e.clock.Now().Unix(), 10),
		"Authorization":      "Bearer abc",
		"X-Tenant":           "acme",
	}
	for k, want := range wantHeaders {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q; want %q", k, got, want)
		}
	}
	if !verifySignature(secret, r.Header, r.Body) {
		t.Errorf("signature %q does not verify", r.Header.Get("X-Relata-Signature"))
	}
	if verifySignature("other", r.Header, r.Body) {
		t.Error("the signature verifies with another secret")
	}
	var got struct {
		Workflow, Run, Event, Object string
		Record                       map[string]any
		Data                         map[string]any
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("payload %s: %v", r.Body, err)
	}
	if got.Workflow != "notify" || got.Run != run.Id || got.Event != "create" || got.Object != "contacts" ||
		got.Record["id"] != c.Id || got.Record["full_name"] != "Ada" {
		t.Errorf("payload = %s", r.Body)
	}
	wantData := `{"contact":{"email":"ada@example.com","vip":true},"name":"Ada","tags":["website","crm"]}`
	if d := jsonOf(got.Data); d != wantData {
		t.Errorf("data = %s; want %s", d, wantData)
	}
	step := e.step(t, run.Id, "0")
	var out struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	_ = json.Unmarshal([]byte(step.GetString("output")), &out)
	if step.GetString("status") != "succeeded" || out.Status != 202 || out.Body != `{"received": true}` || step.GetInt("attempts") != 1 {
		t.Errorf("step = %s attempts %d output %s", step.GetString("status"), step.GetInt("attempts"), step.GetString("output"))
	}
	if strings.Contains(step.GetString("output"), secret) || strings.Contains(run.GetString("error"), secret) {
		t.Error("the secret was stored in the run log")
	}
}

func TestWebhookRetriesWithTheSameIdempotencyKey(t *testing.T) {
	srv := newHookServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			http.Error(w, "database is down", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	e := newEnv(t, workflows.Config{WebhookAllow: []string{"127.0.0.1"}})
	e.save(t, webhookFlow("flaky", webhookAction(srv.URL, `"timeout": "2s"`)))
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada"})

	var statuses []string
	for i := 0; i < 3; i++ {
		if n := e.drain(t); n != 1 {
			t.Fatalf("drain %d ran %d runs; want 1", i+1, n)
		}
		if n := e.drain(t); n != 0 {
			t.Fatalf("a retry ran before its backoff (%d)", n)
		}
		run := e.runs(t, "")[0]
		statuses = append(statuses, run.GetString("status"))
		if i < 2 && !strings.Contains(run.GetString("error"), "500 Internal Server Error: database is down") {
			t.Errorf("error = %q; want the answer's status and body", run.GetString("error"))
		}
		e.clock.Add(time.Hour) // past any backoff
	}
	if got := strings.Join(statuses, " "); got != "retry retry succeeded" {
		t.Errorf("statuses = %s; want retry retry succeeded", got)
	}
	run := e.runs(t, "")[0]
	reqs := srv.requests()
	if len(reqs) != 3 {
		t.Fatalf("the receiver got %d requests; want 3", len(reqs))
	}
	for i, r := range reqs {
		if k := r.Header.Get("Idempotency-Key"); k != run.Id+":0" {
			t.Errorf("request %d Idempotency-Key = %q; want %q", i+1, k, run.Id+":0")
		}
	}
	if reqs[0].Header.Get("X-Relata-Timestamp") == reqs[2].Header.Get("X-Relata-Timestamp") {
		t.Error("each attempt should carry its own timestamp")
	}
	if step := e.step(t, run.Id, "0"); step.GetInt("attempts") != 3 || step.GetString("status") != "succeeded" {
		t.Errorf("step = %s after %d attempts; want succeeded after 3", step.GetString("status"), step.GetInt("attempts"))
	}
}

func TestWebhookDeadRunRetriesWithoutRepeatingSteps(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusBadGateway
	srv := newHookServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	})
	e := newEnv(t, workflows.Config{MaxAttempts: 3, WebhookAllow: []string{"127.0.0.0/8"}})
	e.save(t, webhookFlow("note-then-call", `
		{"type": "create_record", "object": "activities", "link": true, "values": {"type": "note", "subject": "=\"Welcome \" + record.full_name"}},
		`+webhookAction(srv.URL, "")))
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada"})
	for i := 0; i < 3; i++ {
		e.drain(t)
		e.clock.Add(time.Hour)
	}
	run := e.runs(t, "")[0]
	if run.GetString("status") != workflows.StatusDead || !strings.Contains(run.GetString("error"), "502 Bad Gateway") ||
		!strings.Contains(run.GetString("error"), "3 attempts") {
		t.Fatalf("run = %s %q; want dead with the answer's status", run.GetString("status"), run.GetString("error"))
	}
	if n := len(srv.requests()); n != 3 {
		t.Errorf("the receiver got %d requests; want 3", n)
	}

	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	if err := e.eng.Retry(run.Id); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	run = e.run(t, run.Id)
	if run.GetString("status") != workflows.StatusSucceeded {
		t.Fatalf("retried run = %s %q", run.GetString("status"), run.GetString("error"))
	}
	if n := e.count(t, "activities", "type = 'note'"); n != 1 {
		t.Errorf("%d notes were created; want 1 (the completed step is not repeated)", n)
	}
	reqs := srv.requests()
	if len(reqs) != 4 || reqs[3].Header.Get("Idempotency-Key") != run.Id+":1" {
		t.Errorf("requests = %d, last key %q", len(reqs), reqs[len(reqs)-1].Header.Get("Idempotency-Key"))
	}
	if step := e.step(t, run.Id, "1"); step.GetInt("attempts") != 1 {
		t.Errorf("webhook step attempts after retry = %d; want a fresh series (1)", step.GetInt("attempts"))
	}
}

func TestWebhookAnswers(t *testing.T) {
	srv := newHookServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if code == 0 {
			code = http.StatusTeapot // the redirect target: must never be reached
		}
		if code == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
		io.WriteString(w, "answer "+strconv.Itoa(code))
	})
	e := newEnv(t, workflows.Config{WebhookAllow: []string{"127.0.0.1"}})
	tests := []struct {
		code   int
		status string
		errors string
	}{
		{204, workflows.StatusSucceeded, ""},
		{302, workflows.StatusFailed, "redirects are not followed"},
		{400, workflows.StatusFailed, "400 Bad Request: answer 400"},
		{404, workflows.StatusFailed, "404 Not Found"},
		{408, workflows.StatusRetry, "408 Request Timeout"},
		{429, workflows.StatusRetry, "429 Too Many Requests"},
		{503, workflows.StatusRetry, "503 Service Unavailable"},
	}
	for _, tt := range tests {
		c := strconv.Itoa(tt.code)
		e.save(t, webhookFlow("status-"+c, webhookAction(srv.URL+"/status/"+c, `"method": "PUT"`)))
	}
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada"})
	e.drain(t)
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			runs := e.runs(t, "workflow_name = 'status-"+strconv.Itoa(tt.code)+"'")
			if len(runs) != 1 {
				t.Fatalf("%d runs", len(runs))
			}
			r := runs[0]
			if r.GetString("status") != tt.status || !strings.Contains(r.GetString("error"), tt.errors) {
				t.Errorf("run = %s %q; want %s with %q", r.GetString("status"), r.GetString("error"), tt.status, tt.errors)
			}
			if a := e.step(t, r.Id, "0").GetInt("attempts"); a != 1 {
				t.Errorf("attempts = %d; want 1", a)
			}
		})
	}
	for _, r := range srv.requests() {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.Path, "/status/") {
			t.Errorf("unexpected request %s %s (a redirect was followed?)", r.Method, r.Path)
		}
	}
	if n := len(srv.requests()); n != len(tests) {
		t.Errorf("the receiver got %d requests; want %d", n, len(tests))
	}
}

func TestWebhookRefusesInternalAddresses(t *testing.T) {
	srv := newHookServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	p := strconv.Itoa(port)
	e := newEnv(t, workflows.Config{}) // no allow-list
	tests := []struct {
		name, url, want string
	}{
		{"loopback", srv.URL, "refused: 127.0.0.1 is a loopback address"},
		{"localhost", "http://localhost:" + p + "/", "refused: localhost is a loopback host name"},
		{"ipv6-loopback", "http://[::1]:" + p + "/", "refused: ::1 is a loopback address"},
		{"mapped-loopback", "http://[::ffff:127.0.0.1]:" + p + "/", "loopback address"},
		{"metadata", "http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local address"},
		{"rfc1918-10", "http://10.0.0.1/", "refused: 10.0.0.1 is a private address"},
		{"rfc1918-172", "https://172.16.0.1/", "private address"},
		{"rfc1918-192", "http://192.168.1.1:8080/", "private address"},
		{"cgnat", "http://100.64.0.1/", "CGNAT"},
		{"unspecified", "http://0.0.0.0:" + p + "/", "unspecified address"},
		{"ula", "http://[fd00::1]/", "private address"},
		{"ipv6-link-local", "http://[fe80::1%25eth0]/", "link-local address"},
		{"multicast", "http://224.0.0.1/", "multicast address"},
		{"mapped-private", "http://[::ffff:10.1.2.3]/", "private address"},
		{"nat64-metadata", "http://[64:ff9b::a9fe:a9fe]/", "link-local address (through NAT64)"},
	}
	// A host name that resolves to an internal address (DNS, or a rebinding attack, could do
	// the same) is refused after resolution; the machine's own name usually does.
	if host, err := os.Hostname(); err == nil && host != "" && !strings.HasSuffix(host, "localhost") {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		cancel()
		if err == nil && len(ips) > 0 && internal(ips) {
			tests = append(tests, struct{ name, url, want string }{"resolved", "http://" + host + ":" + p + "/", "refused: " + host + " resolves to "})
		} else {
			t.Logf("%s does not resolve to internal addresses only (%v, %v): resolved-name case skipped", host, ips, err)
		}
	}
	for _, tt := range tests {
		e.save(t, webhookFlow("ssrf-"+tt.name, webhookAction(tt.url, `"timeout": "1s"`)))
	}
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada"})
	start := time.Now()
	e.drain(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refusing took %s: something was dialed", d)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := e.runs(t, "workflow_name = 'ssrf-"+tt.name+"'")
			if len(runs) != 1 {
				t.Fatalf("%d runs", len(runs))
			}
			r := runs[0]
			if r.GetString("status") != workflows.StatusFailed || !strings.Contains(r.GetString("error"), tt.want) {
				t.Errorf("run = %s %q; want failed with %q", r.GetString("status"), r.GetString("error"), tt.want)
			}
		})
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("the internal server got %d requests", n)
	}
}

func internal(ips []netip.Addr) bool {
	for _, ip := range ips {
		ip = ip.Unmap()
		if !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() {
			return false
		}
	}
	return true
}

// TestWebhookTimeout: a receiver that never answers is given up after the action's timeout.
// The timeout is 1 s and the receiver would hold the call for 30 s, so the test tells them
// apart even on a loaded machine (with 200 ms the request sometimes had not reached the
// receiver when the timeout ran out).
func TestWebhookTimeout(t *testing.T) {
	srv := newHookServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(30 * time.Second):
		case <-r.Context().Done(): // the caller gave up
		}
	})
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	// A host name on the allow-list may resolve to internal addresses.
	e := newEnv(t, workflows.Config{WebhookAllow: []string{"LocalHost"}})
	e.save(t, webhookFlow("slow", webhookAction("http://localhost:"+port+"/slow", `"timeout": "1s"`)))
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada"})
	start := time.Now()
	e.drain(t)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the call took %s; its timeout is 1s and the receiver holds it for 30s", d)
	}
	run := e.runs(t, "")[0]
	if run.GetString("status") != workflows.StatusRetry || !strings.Contains(run.GetString("error"), "timed out after 1s") {
		t.Errorf("run = %s %q; want retry, timed out after 1s", run.GetString("status"), run.GetString("error"))
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("the receiver got %d requests; want 1", n)
	}
}

func TestWebhookDryRunSendsNothing(t *testing.T) {
	srv := newHookServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {})
	e := newEnv(t, workflows.Config{WebhookAllow: []string{"127.0.0.0/8"}})
	if err := schemas.SetSecret(e.app, "preview-hook", "s3cr3t"); err != nil {
		t.Fatal(err)
	}
	e.save(t, webhookFlow("preview", webhookAction(srv.URL+"/hook", `"method": "PATCH", "secret": {"ref": "preview-hook"},
		"headers": {"Authorization": "Bearer abc"}, "body": {"greeting": "=\"Hi \" + record.full_name"}`)))
	e.save(t, webhookFlow("preview-internal", webhookAction("http://10.0.0.1/hook", "")))
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada"})

	w, ok := e.eng.Workflow("preview")
	if !ok {
		t.Fatal("workflow not loaded")
	}
	rep, err := e.eng.DryRun(w, c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Error != "" || len(rep.Steps) != 1 {
		t.Fatalf("report = %s", jsonOf(rep))
	}
	var got struct {
		Method, URL string
		Headers     map[string]string
		Payload     struct {
			Workflow, Object string
			Record           map[string]any
			Data             map[string]any
		}
	}
	if err := json.Unmarshal([]byte(jsonOf(rep.Steps[0].Output)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "PATCH" || got.URL != srv.URL+"/hook" || got.Headers["Idempotency-Key"] != "dry-run:0" ||
		got.Headers["Authorization"] != "(hidden)" || !strings.HasPrefix(got.Headers["X-Relata-Signature"], "sha256=") ||
		got.Payload.Workflow != "preview" || got.Payload.Object != "contacts" || got.Payload.Record["id"] != c.Id ||
		got.Payload.Data["greeting"] != "Hi Ada" {
		t.Errorf("description = %s", jsonOf(rep.Steps[0].Output))
	}
	if s := jsonOf(rep); strings.Contains(s, "s3cr3t") || strings.Contains(s, "Bearer abc") {
		t.Errorf("the description shows credentials: %s", s)
	}

	w, _ = e.eng.Workflow("preview-internal")
	rep, err = e.eng.DryRun(w, c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Error, "refused: 10.0.0.1 is a private address") {
		t.Errorf("dry run of an internal address: error = %q", rep.Error)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("a dry run sent %d requests", n)
	}
}

func TestWebhookDefinitionChecks(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	tests := []struct {
		name, action string
		want         []string
	}{
		{"scheme", webhookAction("ftp://example.com/x", ""), []string{"/actions/0/url", "https:// or http://"}},
		{"no host", webhookAction("http:///x", ""), []string{"/actions/0/url", "no host"}},
		{"expression url", webhookAction("=record.email", ""), []string{"/actions/0/url", "literal URL"}},
		{"timeout too long", webhookAction("https://example.com", `"timeout": "45s"`), []string{"/actions/0/timeout", "up to 30s"}},
		{"timeout not seconds", webhookAction("https://example.com", `"timeout": "1m"`), []string{"/actions/0/timeout"}},
		{"reserved header", webhookAction("https://example.com", `"headers": {"content-type": "text/plain"}`), []string{"/actions/0/headers/content-type", "set by Relata"}},
		{"relata header", webhookAction("https://example.com", `"headers": {"X-Relata-Signature": "x"}`), []string{"set by Relata"}},
		{"bad header name", webhookAction("https://example.com", `"headers": {"Bad Name": "x"}`), []string{"not a valid header name"}},
		{"bad header value", webhookAction("https://example.com", `"headers": {"X-A": "a\r\nX-B: b"}`), []string{"control characters"}},
		{"bad expression", webhookAction("https://example.com", `"body": {"a": {"b": "=record.nope"}}`), []string{"/actions/0/body/a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := workflows.Parse("a.json", []byte(webhookFlow("a", tt.action)))
			if err == nil {
				_, err = e.eng.Compile("a.json", d)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	// A good one passes.
	d, err := workflows.Parse("a.json", []byte(webhookFlow("a", webhookAction("https://example.com/x?y=1", `"timeout": "1500ms", "method": "PUT"`))))
	if err == nil {
		_, err = e.eng.Compile("a.json", d)
	}
	if err != nil {
		t.Errorf("a good definition was refused: %v", err)
	}
	// A bad allow-list entry stops the engine from being built.
	if _, err := workflows.Register(e.app, nil, workflows.Config{Registry: e.reg, WebhookAllow: []string{"http://example.com"}}); err == nil ||
		!strings.Contains(err.Error(), "WebhookAllow") {
		t.Errorf("Register with a URL in WebhookAllow: err = %v", err)
	}
}
