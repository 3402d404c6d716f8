package main

import (
	"os"
	"testing"
	"time"
)

// processCPU reads a process's CPU time from /proc: it grows while the process works, and a
// process that does not exist gives no figure.
func TestProcessCPU(t *testing.T) {
	before, ok := processCPU(os.Getpid())
	if !ok {
		t.Fatal("no CPU time for this process")
	}
	// Work until the kernel has counted at least two ticks more (bounded).
	x := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		for i := range 5_000_000 {
			x += i % 7
		}
		now, ok := processCPU(os.Getpid())
		if !ok {
			t.Fatal("CPU time became unreadable")
		}
		if now-before >= 2*clockTick {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %v from %v after 20 s of work (x=%d)", now, before, x)
		}
	}
	if _, ok := processCPU(-1); ok {
		t.Error("a CPU time for pid -1")
	}
}

func TestCPUPer(t *testing.T) {
	r := result{n: 4, cpu: 10 * time.Millisecond}
	if got := r.cpuPer(); got != 2.5 {
		t.Errorf("cpuPer = %v; want 2.5 (ms)", got)
	}
	if got := (result{n: 0, cpu: time.Second}).cpuPer(); got != 0 {
		t.Errorf("cpuPer with no requests = %v; want 0", got)
	}
	if m := r.merge(result{n: 1, cpu: 5 * time.Millisecond}); m.cpu != 15*time.Millisecond {
		t.Errorf("merged cpu = %v; want 15ms", m.cpu)
	}
}
