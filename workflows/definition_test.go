package workflows_test

import (
	"testing"
	"time"

	"github.com/relata/relata/workflows"
)

// TestParseDuration pins what a definition's duration may be: one optional sign, digits
// and a unit. Inputs the fuzz target found once ("+-1d") stay here as table rows.
func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30m", 30 * time.Minute, true},
		{"4h", 4 * time.Hour, true},
		{" 1d ", 24 * time.Hour, true},
		{"-30d", -30 * 24 * time.Hour, true},
		{"+2w", 14 * 24 * time.Hour, true},
		{"0d", 0, true},
		{"+-1d", 0, false},
		{"-+1d", 0, false},
		{"++1d", 0, false},
		{"--1d", 0, false},
		{"+d", 0, false},
		{"-d", 0, false},
		{"1 d", 0, false},
		{"1x", 0, false},
		{"d", 0, false},
		{"", 0, false},
		{"99999999999999999999d", 0, false},
		{"7000000h", 0, false},
	} {
		got, err := workflows.ParseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
