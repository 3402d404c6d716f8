package main

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
)

// PocketBase's rate limiter counts each client address on its own. An IPv6 client usually
// holds a whole /64 network — 2^64 addresses — so its sign-in limit (`*:auth`, 20 a minute)
// stopped nothing: each guess could come from a new address. Relata counts the same rules a
// second time for the auth routes, by /64 network for IPv6 clients (IPv4 addresses are left
// to PocketBase's own count): both counts must allow a request.

// authRouteTags are the rate limit tags PocketBase gives the auth routes of a collection
// (apis/record_auth.go), by the route's last path segment.
var authRouteTags = map[string][]string{
	"auth-with-password":     {"authWithPassword", "auth"},
	"auth-with-oauth2":       {"authWithOAuth2", "auth"},
	"auth-with-otp":          {"authWithOTP", "auth"},
	"request-otp":            {"requestOTP"},
	"request-password-reset": {"requestPasswordReset"},
	"confirm-password-reset": {"confirmPasswordReset"},
	"request-verification":   {"requestVerification"},
	"confirm-verification":   {"confirmVerification"},
	"request-email-change":   {"requestEmailChange"},
	"confirm-email-change":   {"confirmEmailChange"},
}

// maxNetworks bounds the networks counted at once. Past it, requests of networks not yet
// counted share one count (an attack from more than this many /64 networks in one window
// slows every new IPv6 sign-in instead of growing the server's memory).
const maxNetworks = 100_000

// networkLimiter counts requests by rule and network in fixed windows.
type networkLimiter struct {
	mu        sync.Mutex
	windows   map[string]*window
	lastSweep time.Time
	now       func() time.Time
}

type window struct {
	reset time.Time
	n     int
}

func newNetworkLimiter(now func() time.Time) *networkLimiter {
	return &networkLimiter{windows: map[string]*window{}, now: now}
}

// allow counts a request under key and reports whether it is within max per d.
func (l *networkLimiter) allow(key string, max int, d time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) > time.Minute || len(l.windows) >= maxNetworks {
		for k, w := range l.windows {
			if !now.Before(w.reset) {
				delete(l.windows, k)
			}
		}
		l.lastSweep = now
	}
	w := l.windows[key]
	if w == nil && len(l.windows) >= maxNetworks {
		key = "overflow"
		w = l.windows[key]
	}
	if w == nil || !now.Before(w.reset) {
		w = &window{reset: now.Add(d)}
		l.windows[key] = w
	}
	if w.n >= max {
		return false
	}
	w.n++
	return true
}

// ipv6Network returns the /64 network of an IPv6 client address; false for IPv4 (also
// IPv4-mapped) and for what is not an address.
func ipv6Network(ip string) (netip.Prefix, bool) {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return netip.Prefix{}, false
	}
	p, err := addr.WithZone("").Prefix(64)
	return p, err == nil
}

// bindNetworkRateLimit adds the /64 count of the auth routes to r (see networkLimiter).
func bindNetworkRateLimit(r *router.Router[*core.RequestEvent], l *networkLimiter) {
	r.Bind(&hook.Handler[*core.RequestEvent]{
		Id:       "relata.main.network-rate-limit",
		Priority: apis.DefaultRateLimitMiddlewarePriority,
		Func: func(e *core.RequestEvent) error {
			if err := l.check(e); err != nil {
				return err
			}
			return e.Next()
		},
	})
}

// check applies the rate limit rule PocketBase would apply to e, counted by e's /64 network.
func (l *networkLimiter) check(e *core.RequestEvent) error {
	if e.Request.Method != http.MethodPost {
		return nil
	}
	rest, ok := strings.CutPrefix(e.Request.URL.Path, "/api/collections/")
	if !ok {
		return nil
	}
	name, action, ok := strings.Cut(rest, "/")
	tags := authRouteTags[action]
	if !ok || len(tags) == 0 {
		return nil
	}
	limits := e.App.Settings().RateLimits
	if !limits.Enabled || e.HasSuperuserAuth() {
		return nil
	}
	ip := e.RealIP()
	network, ok := ipv6Network(ip)
	if !ok || excluded(limits.ExcludedIPs, ip) {
		return nil
	}
	coll, err := e.App.FindCachedCollectionByNameOrId(name)
	if err != nil || !coll.IsAuth() {
		return nil // PocketBase answers 404
	}
	// The labels in PocketBase's order: the collection's tags, the wildcard ones, the path.
	labels := make([]string, 0, 2*len(tags)+2)
	for _, t := range tags {
		labels = append(labels, coll.Name+":"+t)
	}
	for _, t := range tags {
		labels = append(labels, "*:"+t)
	}
	labels = append(labels, e.Request.Method+" "+e.Request.URL.Path, e.Request.URL.Path)
	audience := []string{core.RateLimitRuleAudienceAll, core.RateLimitRuleAudienceGuest}
	if e.Auth != nil {
		audience[1] = core.RateLimitRuleAudienceAuth
	}
	rule, ok := limits.FindRateLimitRule(labels, audience...)
	if !ok {
		return nil
	}
	key := coll.Id + " " + action + " " + rule.Label + rule.Audience + " " + network.String()
	if !l.allow(key, rule.MaxRequests, time.Duration(rule.Duration)*time.Second) {
		return e.TooManyRequestsError("", errors.New("triggered rate limit rule (counted by /64 network): "+rule.String()))
	}
	return nil
}

// excluded reports whether ip is in the rate limits' excluded addresses and networks.
func excluded(list []string, ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, item := range list {
		if p, err := netip.ParsePrefix(item); err == nil {
			if p.Contains(addr) {
				return true
			}
		} else if a, err := netip.ParseAddr(item); err == nil && a == addr {
			return true
		}
	}
	return false
}
