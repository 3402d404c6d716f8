package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// relataBin is the binary under test, built once by TestMain.
var relataBin string

// repoRoot is where the binary runs, so relative paths like examples/sales resolve.
const repoRoot = "../.."

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "relata-bin")
	if err != nil {
		panic(err)
	}
	relataBin = filepath.Join(dir, "relata")
	build := exec.Command("go", "build", "-o", relataBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build relata: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs a relata command to completion and returns its combined output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, relataBin, append(args, "--dev=false")...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// server is a running `relata serve` child process.
type server struct {
	cmd  *exec.Cmd
	url  string
	logs *logBuffer
}

// logBuffer holds a server's output: written by exec's copying goroutine while tests read it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer starts `relata serve` on a free loopback port and waits until it answers.
func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	return startServerEnv(t, dataDir, nil, extra...)
}

// startServerEnv is startServer with extra environment variables ("KEY=value").
func startServerEnv(t *testing.T, dataDir string, env []string, extra ...string) *server {
	t.Helper()
	// freePort's port is free when it answers, not when the server binds it: another test's
	// server may take it in between. Then ours fails to listen while the health check below
	// reaches the other one — so a server counts as up only once its own output says it
	// listens, and one that found its port taken is started again on another.
	for attempt := 1; ; attempt++ {
		s, taken := startServerOnce(t, dataDir, env, extra...)
		if !taken {
			return s
		}
		if attempt == 3 {
			t.Fatalf("relata serve found its port taken three times:\n%s", s.logs)
		}
	}
}

func startServerOnce(t *testing.T, dataDir string, env []string, extra ...string) (*server, bool) {
	t.Helper()
	addr := freePort(t)
	args := append([]string{"serve", "--http", addr, "--dir", dataDir, "--dev=false"}, extra...)
	cmd := exec.Command(relataBin, args...)
	cmd.Dir = repoRoot
	// Tests sign in and post forms far more often than people do: raise the rate limits
	// (TestRateLimits passes its own factor of 1, which wins as the later entry).
	cmd.Env = append(append(os.Environ(), "RELATA_RATE_LIMIT_FACTOR=1000"), env...)
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, logs: logs}
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out := logs.String()
		if strings.Contains(out, "address already in use") {
			s.stop(t)
			return s, true
		}
		if strings.Contains(out, "Server started at") { // PocketBase's banner, once it listens
			res, err := http.Get(s.url + "/api/health")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return s, false
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("relata serve did not come up:\n%s", logs)
	return nil, false
}

func (s *server) stop(t *testing.T) {
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// api sends a JSON request to the server and decodes the answer.
func (s *server) api(t *testing.T, method, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %s", method, path, data)
		}
	}
	return res.StatusCode
}

// apiQuiet is api for goroutines: it reports the status, or 0 when the server is gone.
func (s *server) apiQuiet(method, path, token string, body any) int {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// postMany POSTs each body to path with 8 concurrent clients, as a burst of users would, and
// fails the test if any answer is not 200.
func (s *server) postMany(t *testing.T, path, token string, bodies []map[string]any) {
	t.Helper()
	work := make(chan map[string]any)
	failed := make(chan int, len(bodies))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				if code := s.apiQuiet(http.MethodPost, path, token, body); code != 200 {
					failed <- code
				}
			}
		}()
	}
	for _, b := range bodies {
		work <- b
	}
	close(work)
	wg.Wait()
	close(failed)
	for code := range failed {
		t.Fatalf("POST %s = %d", path, code)
	}
}

func urlEscape(s string) string { return url.QueryEscape(s) }

func (s *server) login(t *testing.T, collection, email, password string) (token, id string) {
	t.Helper()
	var out struct {
		Token  string `json:"token"`
		Record struct {
			ID string `json:"id"`
		} `json:"record"`
	}
	code := s.api(t, http.MethodPost, "/api/collections/"+collection+"/auth-with-password", "",
		map[string]string{"identity": email, "password": password}, &out)
	if code != 200 {
		t.Fatalf("login %s = %d", email, code)
	}
	return out.Token, out.Record.ID
}

type list struct {
	TotalItems int              `json:"totalItems"`
	Items      []map[string]any `json:"items"`
}

// TestServeWithExampleData is the README's run command: a fresh data dir, the example data,
// real users signing in over HTTP.
func TestServeWithExampleData(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--demo")
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	var deals list
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=500", aliceTok, nil, &deals); code != 200 {
		t.Fatalf("list deals = %d", code)
	}
	if deals.TotalItems == 0 || deals.TotalItems == 105 {
		t.Fatalf("alice sees %d deals; want her own, some but not all 105", deals.TotalItems)
	}
	for _, d := range deals.Items {
		if d["owner"] != aliceID {
			t.Fatalf("alice sees a deal owned by %v", d["owner"])
		}
	}
	mgrTok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	if s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=1", mgrTok, nil, &deals); deals.TotalItems != 105 {
		t.Errorf("the manager sees %d deals; want 105 (100 sales, 5 renewals)", deals.TotalItems)
	}
	var page list
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records", "", nil, &page); code != 200 || page.TotalItems != 0 {
		t.Errorf("anonymous list = %d with %d items; want 200 with none", code, page.TotalItems)
	}
	res, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "Relata") {
		t.Errorf("/ does not serve the web app: %d %q", res.StatusCode, body[:min(len(body), 200)])
	}
}

// TestDashboardFieldSurvivesRestart adds a field through the dashboard's API as a
// superuser, restarts the server and exports the definitions.
func TestDashboardFieldSurvivesRestart(t *testing.T) {
	t.Parallel()
	data, out := t.TempDir(), t.TempDir()
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser upsert: %v\n%s", err, o)
	}
	s := startServer(t, data)
	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
	var coll map[string]any
	if code := s.api(t, http.MethodGet, "/api/collections/contacts", tok, nil, &coll); code != 200 {
		t.Fatalf("get collection = %d", code)
	}
	coll["fields"] = append(coll["fields"].([]any), map[string]any{"name": "linkedin", "type": "url"})
	if code := s.api(t, http.MethodPatch, "/api/collections/contacts", tok, coll, nil); code != 200 {
		t.Fatalf("add field = %d", code)
	}
	s.stop(t)

	s = startServer(t, data)
	tok, _ = s.login(t, "_superusers", "root@example.com", "root-password-1")
	var rec map[string]any
	if code := s.api(t, http.MethodPost, "/api/collections/contacts/records", tok,
		map[string]any{"full_name": "Ada", "linkedin": "https://linkedin.com/in/ada"}, &rec); code != 200 || rec["linkedin"] == nil {
		t.Fatalf("after restart, create with the dashboard field = %d %v", code, rec)
	}
	s.stop(t)

	diff, err := run(t, "schema", "diff", "--dir", data)
	if err != nil || !strings.Contains(diff, "dashboard edit contacts.linkedin: added in the dashboard (url)") {
		t.Errorf("schema diff = %v\n%s", err, diff)
	}
	o, err := run(t, "schema", "export", out, "--dir", data)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, o)
	}
	file, err := os.ReadFile(filepath.Join(out, "contacts.json"))
	if err != nil || !strings.Contains(string(file), `"name": "linkedin"`) {
		t.Fatalf("exported contacts.json lacks the field (%v):\n%s", err, file)
	}
	if o, err := run(t, "schema", "validate", out); err != nil {
		t.Errorf("the exported files do not validate: %v\n%s", err, o)
	}
	// Served from the exported files, nothing differs any more.
	diff, err = run(t, "schema", "diff", "--dir", data, "--schemasDir", out)
	if err != nil || !strings.Contains(diff, "in sync") {
		t.Errorf("diff against the export = %v\n%s", err, diff)
	}
}

func TestSchemaValidateCommand(t *testing.T) {
	t.Parallel()
	o, err := run(t, "schema", "validate", "schemas/testdata/invalid")
	if err == nil {
		t.Fatalf("validate of bad files succeeded:\n%s", o)
	}
	for _, want := range []string{
		"unknown_type.json:7 /fields/1/type: value must be one of",
		`meaning.json:9 /fields/3/target: relation target "makers" is not a defined object`,
		"syntax_error.json:4: invalid JSON",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	o, err = run(t, "schema", "validate")
	if err != nil || !strings.Contains(o, "embedded defaults: 4 objects, all valid") {
		t.Errorf("validate defaults = %v\n%s", err, o)
	}
}

// TestServeRefusesDestructiveChange starts on a database with data, then with files that
// drop a field holding it: the server refuses to start and says why.
func TestServeRefusesDestructiveChange(t *testing.T) {
	t.Parallel()
	data, files := t.TempDir(), t.TempDir()
	if o, err := run(t, "seed", "examples/sales", "--dir", data); err != nil {
		t.Fatalf("seed: %v\n%s", err, o)
	}
	for _, name := range []string{"companies", "contacts", "deals", "activities"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "schemas/objects", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if name == "contacts" {
			before := len(b)
			b = regexp.MustCompile(`\{"name": "job_title"[^\n]*\},\n`).ReplaceAll(b, nil)
			if len(b) == before {
				t.Fatal("no job_title field to drop in contacts.json")
			}
		}
		if err := os.WriteFile(filepath.Join(files, name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(relataBin, "serve", "--http", freePort(t), "--dir", data, "--dev=false", "--schemasDir", files)
	cmd.Dir = repoRoot
	done := make(chan []byte, 1)
	go func() { o, _ := cmd.CombinedOutput(); done <- o }()
	select {
	case o := <-done:
		if !strings.Contains(string(o), "DESTRUCTIVE drop field contacts.job_title") {
			t.Errorf("serve output does not explain the refusal:\n%s", o)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve started despite a destructive change")
	}
	o, err := run(t, "schema", "apply", "--force", "--dir", data, "--schemasDir", files)
	if err != nil || !strings.Contains(o, "drop field contacts.job_title") {
		t.Errorf("forced apply = %v\n%s", err, o)
	}
	fmt.Fprint(io.Discard, o)
}
