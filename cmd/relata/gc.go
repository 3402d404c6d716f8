package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the garbage collector's target when GOGC is not set: a collection
// starts when the heap has grown by twice what the last one left live, instead of Go's once.
// The server's live heap is small (about 14 MB under the end-to-end load), so with Go's
// default it collected about nine times a second under load. At 200, end-to-end runs took
// 9 % less CPU and went 7 % faster, for 15 MB more peak memory (106 → 121 MB; a 100,000-row
// import 159 → 182 MB) (BENCHMARKS.md, "The garbage collector's target"). GOGC, when set,
// wins (GOGC=100 is Go's default); GOMEMLIMIT caps the total as usual.
const defaultGCPercent = 200

// tuneGC applies defaultGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
