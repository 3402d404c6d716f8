//go:build !linux

package main

import (
	"os/exec"
	"time"
)

func setDeathSignal(*exec.Cmd) {}

// processCPU is not measured here.
func processCPU(int) (time.Duration, bool) { return 0, false }
