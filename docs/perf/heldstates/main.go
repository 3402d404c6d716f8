// Command heldstates reads an execution trace of a Relata server built with held.patch and
// says where the time of its "held" regions went — the time a goroutine held group commit's
// writer lock on data.db (third_party/dbx/groupcommit.go): running, waiting for a processor
// (and what made it runnable), in a system call, or blocked (and on what).
//
//	go run . TRACE [N]
//
// prints the trace's length, the time held, and the N (default 25) largest states with their
// share of the time held and how often they were entered.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/exp/trace"
)

// goroutine is what is known of one goroutine while the trace is read.
type goroutine struct {
	state  string     // the state and its cause, as printed
	since  trace.Time // when it entered state
	inHeld int        // the held regions it is in
	began  trace.Time // when its outermost held region began
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: heldstates TRACE [N]")
		os.Exit(2)
	}
	top := 25
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "heldstates: N must be a positive number, not %q\n", os.Args[2])
			os.Exit(2)
		}
		top = n
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "heldstates:", err)
		os.Exit(1)
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "heldstates: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	gs := map[trace.GoID]*goroutine{}
	get := func(id trace.GoID) *goroutine {
		g := gs[id]
		if g == nil {
			g = &goroutine{state: "Running"}
			gs[id] = g
		}
		return g
	}
	spent, entered := map[string]int64{}, map[string]int{}
	// account closes the goroutine's current state at now, counting it if held.
	account := func(g *goroutine, now trace.Time) {
		if g.inHeld > 0 && g.since != 0 {
			spent[g.state] += int64(now - g.since)
			entered[g.state]++
		}
		g.since = now
	}
	var first, last trace.Time
	var held int64
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "heldstates: %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			g := get(st.Resource.Goroutine())
			account(g, ev.Time())
			from, to := st.Goroutine()
			g.state = describe(ev, st, from, to)
		case trace.EventRegionBegin, trace.EventRegionEnd:
			if ev.Region().Type != "held" {
				continue
			}
			g := get(ev.Goroutine())
			account(g, ev.Time())
			if ev.Kind() == trace.EventRegionBegin {
				if g.inHeld == 0 {
					g.began = ev.Time()
				}
				g.inHeld++
			} else if g.inHeld > 0 {
				if g.inHeld--; g.inHeld == 0 {
					held += int64(ev.Time() - g.began)
				}
			}
		}
	}
	if held == 0 {
		fmt.Fprintln(os.Stderr, "heldstates: no held region in the trace (was the server built with held.patch?)")
		os.Exit(1)
	}
	fmt.Printf("trace %.3f s, writer lock held %.3f s (%.0f %%)\n", float64(last-first)/1e9, float64(held)/1e9, 100*float64(held)/float64(last-first))
	states := make([]string, 0, len(spent))
	for s := range spent {
		states = append(states, s)
	}
	sort.Slice(states, func(i, j int) bool { return spent[states[i]] > spent[states[j]] })
	for i, s := range states {
		if i == top {
			break
		}
		fmt.Printf("%9.1f ms %5.1f %% %7d×  %s\n", float64(spent[s])/1e6, 100*float64(spent[s])/float64(held), entered[s], s)
	}
}

// describe names the state a goroutine enters: running; runnable, with what made it so (the
// innermost function of the event's stack: the unblocking call of another goroutine, or where
// it was preempted); blocked, with the reason and the innermost frames of its stack; or in a
// system call, with the function making it.
func describe(ev trace.Event, st trace.StateTransition, from, to trace.GoState) string {
	frames := func(n int) []string {
		var fs []string
		for fr := range ev.Stack().Frames() {
			if len(fs) == n {
				break
			}
			fs = append(fs, strings.TrimPrefix(fr.Func, "modernc.org/"))
		}
		return fs
	}
	switch to {
	case trace.GoRunnable:
		by := frames(1)
		if len(by) == 0 {
			by = []string{"?"}
		}
		return fmt.Sprintf("Runnable (was %s%s; %s)", from, reason(st.Reason), by[0])
	case trace.GoWaiting:
		return fmt.Sprintf("Waiting%s < %s", reason(st.Reason), strings.Join(frames(6), " < "))
	case trace.GoSyscall:
		return "Syscall < " + strings.Join(frames(3), " < ")
	}
	return to.String()
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return " " + r
}
