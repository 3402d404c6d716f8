package main

import (
	"fmt"
	"os"
	"reflect"
	"strconv"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// rateLimitsKey marks in the seed ledger that Relata's rate limits were offered once.
const rateLimitsKey = "settings/rateLimits"

// rateLimitFactorEnv multiplies the request counts of the default rate limits when they are
// first applied. Tests and the load tool raise it; a deployment leaves it unset.
const rateLimitFactorEnv = "RELATA_RATE_LIMIT_FACTOR"

// defaultRateLimits are Relata's rate limits, per client IP (PocketBase's limiter; behind a
// reverse proxy set the trusted proxy header in the dashboard so the IP is the client's).
// Documented in SECURITY.md.
var defaultRateLimits = []core.RateLimitRule{
	// sign-in of every auth collection: auth-with-password, -oauth2 and -otp
	{Label: "*:auth", MaxRequests: 20, Duration: 60},
	{Label: "*:requestPasswordReset", MaxRequests: 5, Duration: 300},
	{Label: "*:confirmPasswordReset", MaxRequests: 10, Duration: 300},
	{Label: "*:requestOTP", MaxRequests: 5, Duration: 300},
	{Label: "*:requestVerification", MaxRequests: 5, Duration: 300},
	{Label: "*:requestEmailChange", MaxRequests: 5, Duration: 300},
	// public web forms: the JSON endpoint and the HTML page
	{Label: "POST /api/relata/forms/", MaxRequests: 30, Duration: 60},
	{Label: "POST /forms/", MaxRequests: 30, Duration: 60},
}

// pocketBaseRateLimits are PocketBase v0.39's own defaults (off): settings still equal to
// them were never configured by an admin.
var pocketBaseRateLimits = core.RateLimitsConfig{
	Enabled: false,
	Rules: []core.RateLimitRule{
		{Label: "*:auth", MaxRequests: 2, Duration: 3},
		{Label: "*:create", MaxRequests: 20, Duration: 5},
		{Label: "/api/batch", MaxRequests: 3, Duration: 1},
		{Label: "/api/", MaxRequests: 300, Duration: 10},
	},
}

// applyRateLimits turns on Relata's default rate limits once, at the first start, unless an
// admin configured rate limits already; it never touches them again (an admin may change or
// turn them off in the dashboard). It returns what it did, for the console.
func applyRateLimits(app core.App) (string, error) {
	done, err := schemas.WasSeeded(app, rateLimitsKey)
	if err != nil || done {
		return "", err
	}
	factor := 1
	if v := os.Getenv(rateLimitFactorEnv); v != "" {
		factor, err = strconv.Atoi(v)
		if err != nil || factor < 1 {
			return "", fmt.Errorf("%s=%q: want a whole number of at least 1", rateLimitFactorEnv, v)
		}
	}
	msg := "rate limits: kept the ones configured in the dashboard"
	s := app.Settings()
	cur := s.RateLimits
	if len(cur.ExcludedIPs) == 0 {
		cur.ExcludedIPs = nil
	}
	if !cur.Enabled && (len(cur.Rules) == 0 || reflect.DeepEqual(cur, pocketBaseRateLimits)) {
		rules := make([]core.RateLimitRule, len(defaultRateLimits))
		for i, r := range defaultRateLimits {
			r.MaxRequests *= factor
			rules[i] = r
		}
		s.RateLimits.Rules = rules
		s.RateLimits.Enabled = true
		if err := app.Save(s); err != nil {
			return "", fmt.Errorf("turn on the default rate limits: %w", err)
		}
		msg = "rate limits: Relata's defaults turned on (sign-in 20/min per IP, forms 30/min; see SECURITY.md)"
		if factor > 1 {
			msg += fmt.Sprintf(", raised %dx by %s", factor, rateLimitFactorEnv)
		}
	}
	return msg, schemas.MarkSeeded(app, rateLimitsKey)
}
