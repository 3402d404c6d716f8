package main_test

import (
	"strings"
	"testing"
)

// TestDoctorCLI: on a fresh data directory `relata doctor` reports one line per check and
// exits non-zero (no SMTP server, no backup).
func TestDoctorCLI(t *testing.T) {
	t.Parallel()
	out, err := run(t, "doctor", "--dir", t.TempDir(), "--minFreeMB", "1")
	if err == nil {
		t.Fatalf("doctor exited 0 on a fresh directory:\n%s", out)
	}
	for _, want := range []string{"FAIL migrations", "FAIL smtp", "FAIL backups", "ok   disk", "ok   demo"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}
