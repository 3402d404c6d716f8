package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// procCPU reads a server's CPU time from /proc: it grows while the process works, and a
// side without a process gives no figure.
func TestProcessCPU(t *testing.T) {
	self := &side{name: "self", cmd: &exec.Cmd{Process: &os.Process{Pid: os.Getpid()}}}
	before, ok := self.cpu()
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
		now, ok := self.cpu()
		if !ok {
			t.Fatal("CPU time became unreadable")
		}
		if now-before >= 20*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %v from %v after 20 s of work (x=%d)", now, before, x)
		}
	}
	if _, ok := (&side{name: "none"}).cpu(); ok {
		t.Error("a CPU time for a side without a process")
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
