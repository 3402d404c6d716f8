package main_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Red-team tests of the operations surface (metrics, doctor, replication, demo mode, headers)
// as a signed-out outsider, a sales rep and a careless admin.

// floodRequests sends n requests built by mk with 8 concurrent clients and drains the answers.
func floodRequests(n int, mk func(i int) *http.Request) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res, err := http.DefaultClient.Do(mk(i))
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// TestMetricsSeriesBounded: a signed-out outsider cannot grow /metrics from request input.
// 10,000 distinct paths (ids, collection names, filter text with emails) and 300 invented
// methods with long names keep the request series to a handful, and no label carries what
// the requests carried. Before the fix each invented method was a series of its own (the
// method label was the client's, routed to the catch-all "/"): 300 series holding 300 KB.
// Rate-limited sign-ins count as 429; before, PocketBase's limiter answered before the
// counting middleware ran, so a brute force being refused never showed.
func TestMetricsSeriesBounded(t *testing.T) {
	t.Parallel()
	// Relata's own rate limits (factor 1): a brute force's refusals must show in the metrics.
	s := startServerEnv(t, t.TempDir(), []string{"RELATA_METRICS_TOKEN=redteam-token", "RELATA_RATE_LIMIT_FACTOR=1"}, "--metrics")
	for range 22 {
		s.apiQuiet(http.MethodPost, "/api/collections/users/auth-with-password", "",
			map[string]string{"identity": "nobody@redteam.test", "password": "guess"})
	}
	floodRequests(10000, func(i int) *http.Request {
		r, _ := http.NewRequest(http.MethodGet,
			fmt.Sprintf("%s/api/collections/secretobj%d/records/rec%d?filter=%s", s.url, i, i, urlEscape(fmt.Sprintf("email='ann%d@leak.test'", i))), nil)
		return r
	})
	floodRequests(300, func(i int) *http.Request {
		r, _ := http.NewRequest(fmt.Sprintf("M%d%s", i, strings.Repeat("X", 1000)), s.url+"/anything", nil)
		return r
	})
	code, body := scrape(t, s.url, "Bearer redteam-token")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	series := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "relata_http_requests_total{") {
			series++
		}
	}
	t.Logf("relata_http_requests_total: %d series after 10,300 requests; scrape %d bytes", series, len(body))
	if series > 30 {
		t.Errorf("relata_http_requests_total has %d series after 10,000 paths and 300 methods; want a bounded handful", series)
	}
	for _, leak := range []string{"secretobj", "rec99", "leak.test", "XXXXXXXX", `method="M1`} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics carries request input %q", leak)
		}
	}
	if !strings.Contains(body, `relata_http_requests_total{method="POST",route="POST /api/collections/{collection}/auth-with-password",status="429"} 2`) {
		t.Errorf("the two rate-limited sign-ins are not counted as 429:\n%s", grepLines(body, "relata_http_requests_total{"))
	}
	if !strings.Contains(body, `relata_http_requests_total{method="other",route="/",status="404"} 300`) {
		t.Errorf("invented methods are not counted as method=\"other\":\n%s", grepLines(body, "relata_http_requests_total{"))
	}
}

func grepLines(body, prefix string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// runUntil runs relata like run, with extra environment, and stops a `serve` that came up
// (its banner printed) instead of waiting for it: it reports the output and whether the
// command exited with an error on its own.
func runUntil(t *testing.T, env []string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(relataBin, append(args, "--dev=false")...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case err := <-done:
			return logs.String(), err != nil
		case <-ticker.C:
			if strings.Contains(logs.String(), "Server started at") {
				_ = cmd.Process.Kill()
				<-done
				return logs.String(), false
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("relata %v neither exited nor started:\n%s", args, logs)
		}
	}
}

// TestReplicateURLRedacted: a careless admin's replica URL with credentials (as the
// litestream companion takes them) is refused without printing them, an env value is
// named as such, and file://dir/x — whose "dir" is a host name to a URL parser — is
// refused instead of replicating to /x. Before: the password was printed in the refusal
// (console and logs), and file://relata-rt-nowhere/x replicated to /x.
func TestReplicateURLRedacted(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-S3CRET"
	for _, tc := range []struct {
		env, flag []string
		want      string
	}{
		{flag: []string{"--replicate", "sftp://backup:" + secret + "@replica.test/relata"}, want: `--replicate: replica URL "sftp://REDACTED@replica.test/relata"`},
		{env: []string{"RELATA_REPLICATE_URL=s3://bucket/relata?secret-access-key=" + secret}, want: `RELATA_REPLICATE_URL: replica URL "s3://bucket/relata?REDACTED"`},
		{flag: []string{"--replicate", "file://relata-rt-nowhere/replica"}, want: `"relata-rt-nowhere" is read as a host name`},
	} {
		args := append([]string{"serve", "--dir", t.TempDir(), "--http", freePort(t)}, tc.flag...)
		out, failed := runUntil(t, tc.env, args...)
		if !failed || !strings.Contains(out, tc.want) {
			t.Errorf("%v %v: failed %v, output %q; want a refusal with %q", tc.env, tc.flag, failed, out, tc.want)
		}
		if strings.Contains(out, secret) {
			t.Errorf("%v %v: the output shows the secret:\n%s", tc.env, tc.flag, out)
		}
	}
	out, err := run(t, "restore", "--dir", t.TempDir(), "--from", "webdav://u:"+secret+"@h%zz/x")
	if err == nil || strings.Contains(out, secret) {
		t.Errorf("restore --from with a password: err %v, output %q", err, out)
	}
}

// TestDemoRenamedAccount: a careless admin gives a demo account its real address and keeps
// the published password. Both `serve` on a public address and `relata doctor` must still
// name it. Before: both looked the account up by its seeded email (doctor: @example.com),
// so the server served publicly and doctor said "no demo password in use".
func TestDemoRenamedAccount(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	mustRun(t, "seed", "--demo", "examples/sales", "--dir", data)
	mustRun(t, "superuser", "upsert", opsSuperEmail, opsSuperPassword, "--dir", data)
	s := startServer(t, data)
	tok, _ := s.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
	for _, who := range []string{"admin", "alice", "bob", "carol", "manager"} {
		var l list
		s.api(t, http.MethodGet, "/api/collections/users/records?filter="+urlEscape("email='"+who+"@example.com'"), tok, nil, &l)
		if len(l.Items) != 1 {
			continue
		}
		id := l.Items[0]["id"].(string)
		if code := s.api(t, http.MethodPatch, "/api/collections/users/records/"+id, tok,
			map[string]any{"email": who + "@realcorp.test"}, nil); code != 200 {
			t.Fatalf("rename %s = %d", who, code)
		}
	}
	// The published password still opens the renamed account.
	s.login(t, "users", "alice@realcorp.test", "relata-demo-1")
	s.stop(t)

	public := "0.0.0.0:" + strings.Split(freePort(t), ":")[1]
	out, failed := runUntil(t, nil, "serve", "--http", public, "--dir", data)
	if !failed || !strings.Contains(out, "still have their published demo password") || !strings.Contains(out, "alice@realcorp.test") {
		t.Errorf("serve --http %s with renamed demo accounts: failed %v\n%s", public, failed, out)
	}
	out, err := run(t, "doctor", "--dir", data, "--minFreeMB", "1")
	if err == nil || !strings.Contains(out, "FAIL demo") || !strings.Contains(out, "alice@realcorp.test") {
		t.Errorf("doctor with renamed demo accounts: err %v\n%s", err, out)
	}
}
