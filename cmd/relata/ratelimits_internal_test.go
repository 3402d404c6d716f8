package main

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	_ "github.com/relata/relata/migrations"
)

func TestApplyRateLimits(t *testing.T) {
	scenarios := []struct {
		name    string
		admin   func(s *core.Settings) // what an admin configured before Relata's first start
		want    bool                   // Relata's defaults applied
		enabled bool
	}{
		{name: "fresh install", want: true, enabled: true},
		{name: "admin turned the limiter on", admin: func(s *core.Settings) { s.RateLimits.Enabled = true }, enabled: true},
		{name: "admin edited a rule but left it off", admin: func(s *core.Settings) { s.RateLimits.Rules[0].MaxRequests = 7 }},
		{name: "admin excluded an address", admin: func(s *core.Settings) { s.RateLimits.ExcludedIPs = []string{"10.0.0.1"} }},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			app, err := tests.NewTestApp(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer app.Cleanup()
			if err := app.RunAppMigrations(); err != nil {
				t.Fatal(err)
			}
			if sc.admin != nil {
				sc.admin(app.Settings())
				if err := app.Save(app.Settings()); err != nil {
					t.Fatal(err)
				}
			}
			before := app.Settings().RateLimits
			if _, err := applyRateLimits(app); err != nil {
				t.Fatal(err)
			}
			got := app.Settings().RateLimits
			applied := len(got.Rules) == len(defaultRateLimits) && got.Rules[0] == defaultRateLimits[0]
			if applied != sc.want || got.Enabled != sc.enabled {
				t.Errorf("applied = %v, enabled = %v; want %v, %v (before %+v, after %+v)", applied, got.Enabled, sc.want, sc.enabled, before, got)
			}
			// Once only: an admin who turns them off later keeps them off.
			app.Settings().RateLimits = before
			app.Settings().RateLimits.Enabled = false
			app.Settings().RateLimits.Rules = pocketBaseRateLimits.Rules
			if err := app.Save(app.Settings()); err != nil {
				t.Fatal(err)
			}
			if msg, err := applyRateLimits(app); err != nil || msg != "" {
				t.Errorf("second start: %q, %v; want nothing done", msg, err)
			}
			if app.Settings().RateLimits.Enabled {
				t.Error("the second start turned the rate limits on again")
			}
		})
	}
}
