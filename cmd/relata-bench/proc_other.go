//go:build !linux

package main

import (
	"os/exec"
	"time"
)

func setDeathSignal(*exec.Cmd) {}

// processCPU is not measured outside Linux.
func processCPU(int) time.Duration { return 0 }
