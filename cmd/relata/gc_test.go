package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// Without GOGC the server collects at defaultGCPercent; a GOGC the operator sets wins.
func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "") // restored after the test, with the rest of the environment
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	for _, tc := range []struct {
		name  string
		unset bool
		want  int
	}{
		{"GOGC unset", true, defaultGCPercent},
		{"GOGC=100 set", false, 100},
	} {
		debug.SetGCPercent(100)
		if tc.unset {
			if err := os.Unsetenv("GOGC"); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Setenv("GOGC", "100")
		}
		tuneGC()
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("%s: GC percent %d; want %d", tc.name, got, tc.want)
		}
	}
}
