package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of the whole process to the file named by
// RELATA_CPUPROFILE, when set, until stop is called (at exit): how the benchmarks in
// BENCHMARKS.md find where a served Relata spends its time under load
// (`go tool pprof -top relata FILE`). Unset, it does nothing.
func startProfile() (stop func(), err error) {
	path := os.Getenv("RELATA_CPUPROFILE")
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("RELATA_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("RELATA_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
