package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain lets this test binary serve as the bare PocketBase child: the bench starts
// os.Executable() with "bare serve …", which here is the test binary, not relata-bench.
func TestMain(m *testing.M) {
	if os.Getenv("RELATA_BENCH_BARE") == "1" && len(os.Args) > 1 && os.Args[1] == "bare" {
		runBare(os.Args[2:])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuick runs the whole tool in -quick mode against both servers and checks that every
// table is produced with figures from both sides. It asserts nothing about speed.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two servers; skipped with -short")
	}
	cfg, err := parseFlags([]string{"-quick"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out, logs bytes.Buffer
	if err := run(ctx, cfg, &out, &logs); err != nil {
		t.Fatalf("run: %v\nprogress:\n%s\ntables:\n%s", err, logs.String(), out.String())
	}
	got := out.String()
	t.Logf("\n%s", got)
	for _, want := range []string{
		"### REST on contacts, no workflows",
		"| view ", "| list with filter ", "| update ", "| create ",
		"### Create a contact with workflows enabled",
		"| 10 on contacts ", "| 100 on other objects ",
		"### End-to-end workflow runs",
		"### Form submissions",
		"### List pages as contacts grow",
		"| 5000 ",
		"### Form submissions and creates as contacts grow",
		"### Realtime delivery as contacts grow",
		"### Server CPU per request", "| form submission ",
		"### Aims",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Every request of a quick run must succeed on both sides: a failure is a broken workload.
	if strings.Contains(got, "failed requests") || strings.Contains(logs.String(), "failed, first") {
		t.Errorf("some requests failed:\n%s", logs.String())
	}
	// Realtime: on both sides every allowed subscriber got every create, and nobody else.
	sides := 0
	for _, line := range strings.Split(got, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || strings.TrimSpace(cells[2]) != "50" || (strings.TrimSpace(cells[3]) != "bare" && strings.TrimSpace(cells[3]) != "relata") {
			continue
		}
		sides++
		de := strings.Split(strings.TrimSpace(cells[4]), "/")
		lw := strings.Split(strings.TrimSpace(cells[5]), "/")
		if len(de) != 2 || de[0] != de[1] || de[0] == "0" || len(lw) != 2 || lw[0] != "0" || lw[1] == "0" {
			t.Errorf("realtime: delivered/expected %s, leaked/withheld %s; want all delivered, some withheld, none leaked: %s", cells[4], cells[5], line)
		}
	}
	if sides != 2 {
		t.Errorf("realtime rows for %d sides; want 2", sides)
	}
	// End-to-end: every run made its task and delivered its email, and bare creates were
	// measured around it (a ratio, not a dash or zero).
	e2eRows := 0
	for _, line := range strings.Split(got, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 14 || strings.TrimSpace(cells[1]) != "1" || strings.TrimSpace(cells[2]) != fmt.Sprint(cfg.e2eRuns) {
			continue
		}
		e2eRows++
		for _, c := range cells[7:10] {
			if strings.TrimSpace(c) != fmt.Sprint(cfg.e2eRuns) {
				t.Errorf("end-to-end: tasks, contacts emailed, emails received = %s, %s, %s; want %d each: %s", cells[7], cells[8], cells[9], cfg.e2eRuns, line)
				break
			}
		}
		if bare := strings.Split(strings.TrimSpace(cells[10]), ", "); len(bare) != 2 || bare[0] == "0" || bare[1] == "0" {
			t.Errorf("end-to-end: bare creates/s before, after = %q: %s", cells[10], line)
		}
		if r := strings.TrimSpace(cells[11]); r == "0.000" || r == "" {
			t.Errorf("end-to-end: ratio %q: %s", r, line)
		}
	}
	if e2eRows != 1 {
		t.Errorf("%d end-to-end rows; want 1 (one repetition)", e2eRows)
	}
	if !strings.Contains(got, "| end-to-end runs/s ≥ 0.5× bare creates/s") {
		t.Error("the aims lack the end-to-end one")
	}
	// The REST table holds figures for both sides, not dashes.
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "| create ") && strings.Contains(line, "| – |") {
			t.Errorf("a side measured nothing: %s", line)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(config) bool
		wantErr bool
	}{
		{name: "defaults", check: func(c config) bool {
			return c.duration == 2*time.Second && len(c.clients) == 3 && c.sizes[0] == 100_000 && len(c.sizes) == 1
		}},
		{name: "big adds a million", args: []string{"-big"}, check: func(c config) bool {
			return len(c.sizes) == 2 && c.sizes[1] == 1_000_000
		}},
		{name: "quick is short", args: []string{"-quick"}, check: func(c config) bool {
			return c.duration == time.Second && c.sizes[0] == 5_000
		}},
		{name: "explicit flags win over quick", args: []string{"-quick", "-clients", "4", "-contacts", "20_000"}, check: func(c config) bool {
			return len(c.clients) == 1 && c.clients[0] == 4 && c.sizes[0] == 20_000
		}},
		{name: "only", args: []string{"-only", "rest,data"}, check: func(c config) bool {
			return c.only["rest"] && c.only["data"] && !c.only["e2e"]
		}},
		{name: "unknown workload", args: []string{"-only", "nap"}, wantErr: true},
		{name: "growth defaults", check: func(c config) bool {
			return c.growth.rtClients == 1000 && c.growth.rtCreates == 20 && len(c.growth.formClients) == 1
		}},
		{name: "growth quick", args: []string{"-quick"}, check: func(c config) bool {
			return c.growth.rtClients == 50 && c.growth.rtCreates == 5
		}},
		{name: "growth flags win", args: []string{"-quick", "-realtimeClients", "0", "-growthFormClients", "1,8"}, check: func(c config) bool {
			return c.growth.rtClients == 0 && len(c.growth.formClients) == 2
		}},
		{name: "realtime needs creates", args: []string{"-realtimeCreates", "0"}, wantErr: true},
		{name: "only cpu", args: []string{"-only", "cpu"}, check: func(c config) bool { return c.only["cpu"] }},
		{name: "size below the base seed", args: []string{"-contacts", "10"}, wantErr: true},
		{name: "bad count", args: []string{"-clients", "x"}, wantErr: true},
		{name: "server CPUs", args: []string{"-serverCPUs", "0"}, check: func(c config) bool { return c.serverCPUs == "0" }},
		{name: "server CPU list", args: []string{"-serverCPUs", "0,1"}, check: func(c config) bool { return c.serverCPUs == "0,1" }},
		{name: "bad server CPUs", args: []string{"-serverCPUs", "one"}, wantErr: true},
		{name: "backwards CPU range", args: []string{"-serverCPUs", "3-1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	r := result{}
	for i := 1; i <= 100; i++ {
		r.lats = append(r.lats, time.Duration(i)*time.Millisecond)
	}
	if got := r.pct(50); got != 50*time.Millisecond {
		t.Errorf("p50 = %v; want 50ms", got)
	}
	if got := r.pct(99); got != 99*time.Millisecond {
		t.Errorf("p99 = %v; want 99ms", got)
	}
	if got := (result{}).pct(99); got != 0 {
		t.Errorf("p99 of nothing = %v; want 0", got)
	}
}

// TestMeasureStops checks that a request loop ends by itself at its count and its duration.
func TestMeasureStops(t *testing.T) {
	r := measure(context.Background(), 4, time.Minute, 100, func(context.Context, int) error { return nil })
	if r.n != 100 {
		t.Errorf("count-bounded loop ran %d requests; want 100", r.n)
	}
	start := time.Now()
	r = measure(context.Background(), 4, 200*time.Millisecond, 1<<30, func(context.Context, int) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if el := time.Since(start); el > 5*time.Second || r.n == 0 {
		t.Errorf("time-bounded loop: %d requests in %v", r.n, el)
	}
}

func TestMerge(t *testing.T) {
	a := result{n: 2, elapsed: time.Second, lats: []time.Duration{3, 1}}
	b := result{n: 1, errs: 1, elapsed: time.Second, lats: []time.Duration{2}, firstErr: "boom"}
	m := a.merge(b)
	if m.n != 3 || m.errs != 1 || m.elapsed != 2*time.Second || m.firstErr != "boom" || m.rps() != 1.5 {
		t.Errorf("merge = %+v", m)
	}
	if !slices.Equal(m.lats, []time.Duration{1, 2, 3}) {
		t.Errorf("latencies = %v; want sorted 1 2 3", m.lats)
	}
}

func TestE2ERatios(t *testing.T) {
	rep := func(runs, before, after float64) e2eRep {
		return e2eRep{runsPerSec: runs, bare: [2]result{{n: int(before), elapsed: time.Second}, {n: int(after), elapsed: time.Second}}}
	}
	for _, c := range []struct {
		reps        []e2eRep
		lo, med, hi float64
	}{
		{nil, 0, 0, 0},
		{[]e2eRep{rep(500, 900, 1100)}, 0.5, 0.5, 0.5},
		{[]e2eRep{rep(600, 1000, 1000), rep(400, 1000, 1000), rep(500, 1000, 1000)}, 0.4, 0.5, 0.6},
		{[]e2eRep{rep(600, 1000, 1000), rep(400, 1000, 1000), rep(450, 1000, 1000), rep(700, 1000, 1000)}, 0.4, 0.525, 0.7},
		{[]e2eRep{rep(500, 0, 0)}, 0, 0, 0},
	} {
		lo, med, hi := e2eRatios(c.reps)
		if math.Abs(lo-c.lo) > 1e-9 || math.Abs(med-c.med) > 1e-9 || math.Abs(hi-c.hi) > 1e-9 {
			t.Errorf("e2eRatios(%d reps) = %v, %v, %v; want %v, %v, %v", len(c.reps), lo, med, hi, c.lo, c.med, c.hi)
		}
	}
}
