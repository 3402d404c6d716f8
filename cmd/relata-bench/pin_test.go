package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCountCPUs(t *testing.T) {
	for list, want := range map[string]int{"0": 1, "1": 1, "0,1": 2, "0-3": 4, "0-1,4": 3} {
		if got, err := countCPUs(list); err != nil || got != want {
			t.Errorf("countCPUs(%q) = %d, %v; want %d", list, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "1-", "2-1", "-1", "0,,1", "0-4096"} {
		if _, err := countCPUs(bad); err == nil {
			t.Errorf("countCPUs(%q): no error", bad)
		}
	}
}

// FuzzCountCPUs: any text is refused or counted without a panic, and a counted list names at
// least one CPU per part, each part a number or an ascending range below maxCPU.
func FuzzCountCPUs(f *testing.F) {
	for _, s := range []string{"0", "0,1", "0-3", "1-0", "0-1,4", "", ",", "9999", "-", "0-4095"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		n, err := countCPUs(list)
		if err != nil {
			return
		}
		parts := strings.Split(list, ",")
		if n < len(parts) || n > maxCPU*len(parts) {
			t.Fatalf("countCPUs(%q) = %d for %d parts", list, n, len(parts))
		}
		for _, p := range parts {
			lo, hi, isRange := strings.Cut(strings.TrimSpace(p), "-")
			a, err := strconv.Atoi(lo)
			if err != nil || a < 0 || a >= maxCPU {
				t.Fatalf("countCPUs(%q) accepted the part %q", list, p)
			}
			if isRange {
				if b, err := strconv.Atoi(hi); err != nil || b < a || b >= maxCPU {
					t.Fatalf("countCPUs(%q) accepted the range %q", list, p)
				}
			}
		}
	})
}

// TestPinnedServer starts a bare server with -serverCPUs 0 and reads, from /proc, that the
// served process (the one whose CPU time the bench reads) may run on CPU 0 only and has
// GOMAXPROCS=1 in its environment.
func TestPinnedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server; skipped with -short")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset on this machine")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s := &side{name: "bare", dir: filepath.Join(root, "bare", "pb_data"), bin: self, argv: []string{"bare"},
		env: []string{"RELATA_BENCH_BARE=1"}, cpus: "0"}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	pid := s.cmd.Process.Pid
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	var allowed string
	for _, l := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == "Cpus_allowed_list" {
			allowed = strings.TrimSpace(v)
		}
	}
	if allowed != "0" {
		t.Errorf("the server may run on CPUs %q; want 0", allowed)
	}
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains("\x00"+string(environ), "\x00GOMAXPROCS=1\x00") {
		t.Error("the server's environment lacks GOMAXPROCS=1")
	}
	if c, ok := s.cpu(); !ok || c <= 0 {
		t.Errorf("CPU time of the pinned server = %v, %v; want it read from /proc", c, ok)
	}
}
