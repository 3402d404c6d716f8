package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemoSeedsOnce is issue 10 finding 6: restarting with the example data never brings
// back a deleted account with its demo password, re-enables a disabled workflow or undoes
// an edit.
func TestDemoSeedsOnce(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser: %v\n%s", err, o)
	}
	s := startServer(t, data, "--demo")
	if !strings.Contains(s.logs.String(), "DEMO MODE") {
		t.Errorf("demo mode did not warn on the console:\n%s", s.logs)
	}
	root, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
	var users list
	s.api(t, http.MethodGet, "/api/collections/users/records?filter="+urlEscape(`email="admin@example.com"`), root, nil, &users)
	if len(users.Items) != 1 {
		t.Fatalf("admin@example.com not seeded: %v", users.Items)
	}
	if code := s.api(t, http.MethodDelete, "/api/collections/users/records/"+users.Items[0]["id"].(string), root, nil, nil); code != 204 {
		t.Fatalf("delete admin@example.com = %d", code)
	}
	var wfs list
	s.api(t, http.MethodGet, "/api/collections/workflows/records?filter="+urlEscape(`name="idle-deal-reminder"`), root, nil, &wfs)
	if len(wfs.Items) != 1 || wfs.Items[0]["enabled"] != true {
		t.Fatalf("idle-deal-reminder not seeded enabled: %v", wfs.Items)
	}
	wfID := wfs.Items[0]["id"].(string)
	mgr, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")

	// The example data has a past (issue 11 item 10): the dashboard's time to close and time
	// in stage have figures, from creation dates and stage histories of the seed files.
	var cycle struct {
		DaysToClose struct {
			Count int     `json:"count"`
			Days  float64 `json:"days"`
		} `json:"daysToClose"`
		TimeInStage []struct {
			Stage string  `json:"stage"`
			Count int     `json:"count"`
			Days  float64 `json:"days"`
		} `json:"timeInStage"`
	}
	if code := s.api(t, http.MethodGet, "/api/relata/insights/cycle?object=deals", mgr, nil, &cycle); code != 200 {
		t.Fatalf("cycle = %d", code)
	}
	if cycle.DaysToClose.Count < 10 || cycle.DaysToClose.Days < 20 {
		t.Errorf("time to close over %d won deals = %.1f days; want the seeded past", cycle.DaysToClose.Count, cycle.DaysToClose.Days)
	}
	for _, st := range cycle.TimeInStage {
		if st.Stage == "lead" && (st.Count == 0 || st.Days < 1) {
			t.Errorf("time in lead = %.1f days over %d stays; want the seeded history", st.Days, st.Count)
		}
	}
	if code := s.api(t, http.MethodPatch, "/api/collections/workflows/records/"+wfID, mgr, map[string]any{"enabled": false}, nil); code != 200 {
		t.Fatalf("the manager's disable = %d", code)
	}
	aliceTok, _ := s.login(t, "users", "alice@example.com", "relata-demo-1")
	var mine list
	s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=1&sort=id", aliceTok, nil, &mine)
	if len(mine.Items) != 1 {
		t.Fatal("alice has no deal")
	}
	dealID := mine.Items[0]["id"].(string)
	if code := s.api(t, http.MethodPatch, "/api/collections/deals/records/"+dealID, aliceTok, map[string]any{"name": "Alice's own words"}, nil); code != 200 {
		t.Fatalf("alice's edit = %d", code)
	}
	if code := s.api(t, http.MethodDelete, "/api/collections/companies/records/cmp000000000050", mgr, nil, nil); code != 204 {
		t.Fatalf("the manager's delete of a company = %d", code)
	}
	s.stop(t)

	for round := 1; round <= 2; round++ {
		s := startServer(t, data, "--demo")
		if !strings.Contains(s.logs.String(), "users: 0 created, 4 already there, 1 deleted since") {
			t.Errorf("round %d: the console does not report the deleted user left alone:\n%s", round, s.logs)
		}
		root, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
		var users list
		s.api(t, http.MethodGet, "/api/collections/users/records?filter="+urlEscape(`email="admin@example.com"`), root, nil, &users)
		if len(users.Items) != 0 {
			t.Errorf("round %d: the deleted admin@example.com is back", round)
		}
		if code := s.apiQuiet(http.MethodPost, "/api/collections/users/auth-with-password", "",
			map[string]string{"identity": "admin@example.com", "password": "relata-demo-1"}); code != 400 {
			t.Errorf("round %d: signing in as the deleted admin = %d; want 400", round, code)
		}
		var wf map[string]any
		s.api(t, http.MethodGet, "/api/collections/workflows/records/"+wfID, root, nil, &wf)
		if wf["enabled"] != false {
			t.Errorf("round %d: the disabled workflow is enabled again: %v", round, wf)
		}
		var deal map[string]any
		s.api(t, http.MethodGet, "/api/collections/deals/records/"+dealID, root, nil, &deal)
		if deal["name"] != "Alice's own words" {
			t.Errorf("round %d: alice's edit became %q", round, deal["name"])
		}
		if code := s.apiQuiet(http.MethodGet, "/api/collections/companies/records/cmp000000000050", root, nil); code != 404 {
			t.Errorf("round %d: the deleted company answers %d; want 404", round, code)
		}
		s.stop(t)
	}
}

// TestDemoRefusesPublicAddress: demo credentials are never served beyond this machine.
func TestDemoRefusesPublicAddress(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	// 0.0.0.0 would listen on every interface: the refusal comes before any listener.
	public := "0.0.0.0:" + strings.Split(freePort(t), ":")[1]
	out, err := run(t, "serve", "--demo", "--http", public, "--dir", data)
	if err == nil || !strings.Contains(out, "refusing to serve on "+public+": --demo creates accounts with published passwords") {
		t.Errorf("serve --demo --http %s = %v\n%s", public, err, out)
	}
	// A data dir seeded in demo mode, served publicly without --demo: refused while a demo
	// account still opens with its published password.
	s := startServer(t, data, "--demo")
	s.stop(t)
	out, err = run(t, "serve", "--http", public, "--dir", data)
	if err == nil || !strings.Contains(out, "5 accounts still have their published demo password (admin@example.com, alice@example.com") {
		t.Errorf("serve --http %s on demo data = %v\n%s", public, err, out)
	}
	// The same for `relata seed --demo`.
	data3 := t.TempDir()
	if o, err := run(t, "seed", "--demo", "examples/sales", "--dir", data3); err != nil {
		t.Fatalf("seed --demo: %v\n%s", err, o)
	}
	out, err = run(t, "serve", "--http", public, "--dir", data3)
	if err == nil || !strings.Contains(out, "5 accounts still have their published demo password") {
		t.Errorf("serve --http %s after seed --demo = %v\n%s", public, err, out)
	}
	// Without --demo, --seed gives the users no usable password.
	data2 := t.TempDir()
	s = startServer(t, data2, "--seed", "examples/sales")
	if code := s.apiQuiet(http.MethodPost, "/api/collections/users/auth-with-password", "",
		map[string]string{"identity": "alice@example.com", "password": "relata-demo-1"}); code != 400 {
		t.Errorf("--seed without --demo: alice signs in with the demo password (%d)", code)
	}
}

// TestRateLimits is issue 10 finding 7: the 21st sign-in attempt within a minute from one
// address gets 429, and so does the 31st form post; the admin's settings are kept on restart.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser: %v\n%s", err, o)
	}
	s := startServerEnv(t, data, []string{"RELATA_RATE_LIMIT_FACTOR=1"}, "--demo")
	start := time.Now()
	var codes []int
	for i := 0; i < 21; i++ {
		codes = append(codes, s.apiQuiet(http.MethodPost, "/api/collections/users/auth-with-password", "",
			map[string]string{"identity": "alice@example.com", "password": "wrong-guess"}))
	}
	if time.Since(start) > 50*time.Second {
		t.Skip("the machine is too slow to send 21 requests within the one-minute window")
	}
	for i, c := range codes[:20] {
		if c != 400 {
			t.Errorf("wrong password %d = %d; want 400", i+1, c)
		}
	}
	if codes[20] != 429 {
		t.Errorf("wrong password 21 = %d; want 429 (all: %v)", codes[20], codes)
	}
	// Superusers are not limited (PocketBase): the admin can still configure things.
	root, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")

	// Each form limits posts per address itself (ratePerMinute, 5 by default); PocketBase's
	// limiter caps the posts of one address to all forms, even to forms that do not exist.
	var form []int
	for i := 0; i < 31; i++ {
		form = append(form, s.apiQuiet(http.MethodPost, fmt.Sprintf("/api/relata/forms/no-such-form-%d", i), "", map[string]any{}))
	}
	if form[29] == 429 || form[30] != 429 {
		t.Errorf("form posts: 30th = %d, 31st = %d; want not 429, then 429 (all: %v)", form[29], form[30], form)
	}

	// The admin turns the limiter off in the dashboard; a restart keeps it off.
	var settings struct {
		RateLimits struct {
			Enabled bool `json:"enabled"`
			Rules   []struct {
				Label       string `json:"label"`
				MaxRequests int    `json:"maxRequests"`
			} `json:"rules"`
		} `json:"rateLimits"`
	}
	s.api(t, http.MethodGet, "/api/settings", root, nil, &settings)
	if !settings.RateLimits.Enabled || len(settings.RateLimits.Rules) == 0 || settings.RateLimits.Rules[0].Label != "*:auth" || settings.RateLimits.Rules[0].MaxRequests != 20 {
		t.Errorf("rate limit settings after the first start = %+v", settings.RateLimits)
	}
	if code := s.api(t, http.MethodPatch, "/api/settings", root, map[string]any{"rateLimits": map[string]any{"enabled": false}}, nil); code != 200 {
		t.Fatalf("turn rate limits off = %d", code)
	}
	s.stop(t)
	s = startServerEnv(t, data, []string{"RELATA_RATE_LIMIT_FACTOR=1"}, "--demo")
	root, _ = s.login(t, "_superusers", "root@example.com", "root-password-1")
	s.api(t, http.MethodGet, "/api/settings", root, nil, &settings)
	if settings.RateLimits.Enabled {
		t.Error("a restart turned the rate limits the admin had turned off back on")
	}
}

// TestDemoNotThroughProxy: demo mode listens on loopback only, but a reverse proxy on the
// same machine would publish its accounts all the same: while demo passwords work, requests
// that came through a proxy (its headers) or by another host name are refused; direct ones
// from this machine are served. A deployment without demo accounts serves proxied requests.
func TestDemoNotThroughProxy(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, s *server, header, value string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.url+"/api/collections/users/auth-with-password",
			strings.NewReader(`{"identity":"alice@example.com","password":"relata-demo-1"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if header == "Host" {
			req.Host = value
		} else if header != "" {
			req.Header.Set(header, value)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	demo := startServer(t, t.TempDir(), "--demo")
	if code := get(t, demo, "", ""); code != http.StatusOK {
		t.Fatalf("alice signs in on this machine = %d; want 200", code)
	}
	if code := get(t, demo, "Host", "localhost"); code != http.StatusOK {
		t.Errorf("by the name localhost = %d; want 200", code)
	}
	for _, h := range [][2]string{{"X-Forwarded-For", "203.0.113.9"}, {"Forwarded", "for=203.0.113.9"}, {"X-Real-Ip", "203.0.113.9"},
		{"Via", "1.1 proxy"}, {"Host", "crm.example.com"}} {
		if code := get(t, demo, h[0], h[1]); code != http.StatusForbidden {
			t.Errorf("alice signs in with %s: %s = %d; want 403", h[0], h[1], code)
		}
	}
	plain := startServer(t, t.TempDir())
	if code := get(t, plain, "X-Forwarded-For", "203.0.113.9"); code != http.StatusBadRequest {
		t.Errorf("a proxied sign-in without demo accounts = %d; want 400 (no such account), not refused", code)
	}
}
