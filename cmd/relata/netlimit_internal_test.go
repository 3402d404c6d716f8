package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	_ "github.com/relata/relata/migrations"
)

// TestNetworkRateLimit: sign-in attempts from new addresses of one IPv6 /64 network hit the
// `*:auth` limit as one client would; other networks, IPv4 clients, excluded networks and
// other routes are not counted. Over real HTTP, the client address taken from a trusted
// X-Forwarded-For header.
func TestNetworkRateLimit(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	if err := app.RunAppMigrations(); err != nil {
		t.Fatal(err)
	}
	s := app.Settings()
	s.TrustedProxy.Headers = []string{"X-Forwarded-For"}
	s.RateLimits.Enabled = true
	s.RateLimits.ExcludedIPs = []string{"2001:db8:99::/48"}
	s.RateLimits.Rules = []core.RateLimitRule{
		{Label: "*:auth", MaxRequests: 3, Duration: 60},
		{Label: "*:requestPasswordReset", MaxRequests: 2, Duration: 300},
	}
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}
	r, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	bindNetworkRateLimit(r, newNetworkLimiter(func() time.Time { return now }))
	mux, err := r.BuildMux()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, from string) int {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+path, strings.NewReader(`{"identity":"nobody@example.com","password":"wrong-password","email":"nobody@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", from)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	signIn := "/api/collections/users/auth-with-password"
	// every attempt from a new address of 2001:db8:1:2::/64: PocketBase's per-address
	// count never reaches 3
	for i := 1; i <= 3; i++ {
		if got := post(signIn, fmt.Sprintf("2001:db8:1:2::%x", i)); got != http.StatusBadRequest {
			t.Fatalf("sign-in %d from the network = %d; want 400 (wrong password)", i, got)
		}
	}
	tests := []struct {
		name, path, from string
		want             int
	}{
		{"a fourth address of the same /64", signIn, "2001:db8:1:2:ffff:ffff:ffff:ffff", http.StatusTooManyRequests},
		{"the same /64, written another way", signIn, "2001:0db8:0001:0002::abcd", http.StatusTooManyRequests},
		{"the neighbouring /64", signIn, "2001:db8:1:3::1", http.StatusBadRequest},
		{"an IPv4 client (PocketBase's own count)", signIn, "192.0.2.7", http.StatusBadRequest},
		{"an IPv4-mapped client", signIn, "::ffff:192.0.2.8", http.StatusBadRequest},
		{"another route of the same network, its own rule", "/api/collections/users/request-password-reset", "2001:db8:1:2::9", http.StatusNoContent},
		{"a route without a rule", "/api/collections/users/auth-refresh", "2001:db8:1:2::9", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		if got := post(tt.path, tt.from); got != tt.want {
			t.Errorf("%s: %s from %s = %d; want %d", tt.name, tt.path, tt.from, got, tt.want)
		}
	}
	// an excluded network is never counted by /64
	for i := 1; i <= 5; i++ {
		if got := post(signIn, fmt.Sprintf("2001:db8:99:1::%x", i)); got != http.StatusBadRequest {
			t.Errorf("sign-in %d from an excluded network = %d; want 400", i, got)
		}
	}
	// the window ends
	now = now.Add(61 * time.Second)
	if got := post(signIn, "2001:db8:1:2::77"); got != http.StatusBadRequest {
		t.Errorf("after the window: %d; want 400", got)
	}
}

// TestNetworkLimiterBounded: past maxNetworks networks in one window, new ones share a count
// instead of growing the map; expired windows are swept.
func TestNetworkLimiterBounded(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	l := newNetworkLimiter(func() time.Time { return now })
	for i := range maxNetworks {
		if !l.allow(fmt.Sprint("net", i), 1, time.Minute) {
			t.Fatalf("network %d refused", i)
		}
	}
	if !l.allow("one more", 1, time.Minute) || l.allow("and another", 1, time.Minute) {
		t.Error("networks past the bound do not share one count")
	}
	if len(l.windows) > maxNetworks+1 {
		t.Errorf("%d windows; want at most %d", len(l.windows), maxNetworks+1)
	}
	now = now.Add(2 * time.Minute)
	if !l.allow("after", 1, time.Minute) || len(l.windows) != 1 {
		t.Errorf("after the windows ended: %d windows; want 1", len(l.windows))
	}
}
