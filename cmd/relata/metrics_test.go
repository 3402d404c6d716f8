package main_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func scrape(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMetrics scrapes /metrics over real HTTP: off by default, refused without the token
// or with a wrong one, and with it the request counters, run queue, outbox and DB size.
func TestMetrics(t *testing.T) {
	t.Parallel()
	off := startServer(t, t.TempDir())
	if _, body := scrape(t, off.url, "Bearer s3cret-token"); strings.Contains(body, "relata_http_requests_total") {
		t.Fatal("/metrics answers without --metrics")
	}
	off.stop(t)

	dir := t.TempDir()
	mustRun(t, "superuser", "upsert", opsSuperEmail, opsSuperPassword, "--dir", dir)
	s := startServerEnv(t, dir, []string{"RELATA_METRICS_TOKEN=s3cret-token"}, "--metrics")
	for i := 0; i < 3; i++ {
		s.apiQuiet(http.MethodGet, "/api/collections/deals/records", "", nil) // 401/403 for anonymous
	}
	for _, tc := range []struct{ name, auth string }{
		{"no token", ""},
		{"wrong token", "Bearer wrong"},
		{"token as-is without Bearer", "s3cret-token"},
	} {
		if code, _ := scrape(t, s.url, tc.auth); code != http.StatusUnauthorized {
			t.Errorf("%s: /metrics = %d, want 401", tc.name, code)
		}
	}
	code, body := scrape(t, s.url, "Bearer s3cret-token")
	if code != 200 {
		t.Fatalf("/metrics with the token = %d: %s", code, body)
	}
	for _, want := range []string{
		`relata_http_requests_total{method="GET",route="GET /api/health",status="200"}`,
		`route="GET /api/collections/{collection}/records",status="`,
		`relata_run_queue_oldest_age_seconds 0`,
		`relata_workflow_events_pending 0`,
		`relata_trigger_lag_seconds 0`,
		`relata_audit_journal_pending 0`,
		`relata_audit_journal_oldest_age_seconds 0`,
		`relata_db_size_bytes{file="data.db"}`,
		`relata_http_request_duration_seconds_bucket`,
		`relata_db_group_commits_total `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The server's first writes (settings at its start) went through group commit.
	if m := regexp.MustCompile(`(?m)^relata_db_group_commit_transactions_total (\S+)$`).FindStringSubmatch(body); m == nil || m[1] == "0" {
		t.Errorf("/metrics: group commit transactions %v, want some", m)
	}
	// A superuser gets in without the token.
	tok, _ := s.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
	if code, _ := scrape(t, s.url, tok); code != 200 {
		t.Errorf("/metrics as superuser = %d", code)
	}
}
