// Command relata-bench measures Relata against a bare PocketBase of the same version, side by
// side on loopback, and prints the figures as Markdown tables (absolute values and the ratio
// Relata / bare).
//
//	go run ./cmd/relata-bench              # default run, about 4 minutes on 2 cores
//	go run ./cmd/relata-bench -big         # also 1,000,000 contacts (adds several minutes)
//	go run ./cmd/relata-bench -quick       # every workload for about a second (smoke test)
//
// It starts two servers as child processes on free 127.0.0.1 ports, each with its own
// temporary data directory (removed at the end unless -keep is given):
//
//   - bare: this program's hidden "bare serve" command, which is pocketbase.New() with no
//     Relata code at all. Its collections (the CRM objects and users, API rules included) are
//     imported from the Relata data directory, so both sides store the same columns and
//     indexes and apply the same rules.
//   - relata: the real relata binary, built from this module with `go build ./cmd/relata`
//     (or given with -relata).
//
// Both get the same users and the same seeded data (written with SQL in one transaction
// while the servers are stopped), and every request is made as a sales user, so API rules
// apply on both sides. The workloads: REST view, list with a filter, update and create on
// contacts for 1, 8 and 64 concurrent clients; create with 10 workflows on contacts and with
// 100 and 1,000 on other objects; end-to-end workflow runs (contact created → task created →
// email delivered to an SMTP server run in this process); form submissions; and list and
// filter pages on 100,000 (and with -big 1,000,000) contacts. Every request loop is bounded
// by a duration and a request count. Run `relata-bench -h` for the flags; BENCHMARKS.md has
// the results and what they mean.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is what a run measures; flags fill it.
type config struct {
	// duration and maxRequests bound each measured cell; warmup runs unmeasured before it.
	duration    time.Duration
	warmup      time.Duration
	maxRequests int
	// repeat measures each bare/Relata pair this many times, alternating which goes first,
	// and pools the samples: less sensitive to a busy machine.
	repeat int
	// clients are the concurrency levels of the REST, workflow and form workloads.
	clients []int
	// sameWorkflows are enabled on contacts (the written object); otherWorkflows are the
	// counts on other objects measured in turn.
	sameWorkflows  int
	otherWorkflows []int
	// e2eRuns is how many contacts the end-to-end workload creates (one run each).
	e2eRuns int
	// sizes are the contact counts of the data-size workload; dataDuration, dataMax and
	// dataClients bound each of its cells.
	sizes        []int
	dataDuration time.Duration
	dataMax      int
	dataClients  int
	// relataBin is a prebuilt relata binary; empty builds one from srcDir.
	relataBin string
	srcDir    string
	// form is the slug of the form the form workload posts to; formsDir holds its definition.
	form     string
	formsDir string
	keep     bool
	verbose  bool
	// serverCPUs, when set, pins both servers to these CPUs (taskset list) with GOMAXPROCS
	// set to their number: the core-scaling measurement.
	serverCPUs string
	// only, when set, names the workloads to run (rest, workflows, e2e, forms, data).
	only map[string]bool
	// restOps, when set, names the REST operations measured (view, list, update, create):
	// a profile of one operation (RELATA_CPUPROFILE) then holds nothing else.
	restOps map[string]bool
	// growth configures what the data workload measures besides list pages (growth.go).
	growth growthConfig
}

func defaultConfig() config {
	return config{
		duration:       2 * time.Second,
		warmup:         300 * time.Millisecond,
		maxRequests:    100_000,
		repeat:         1,
		clients:        []int{1, 8, 64},
		sameWorkflows:  10,
		otherWorkflows: []int{100, 1000},
		e2eRuns:        200,
		sizes:          []int{100_000},
		dataDuration:   4 * time.Second,
		dataMax:        200,
		dataClients:    1,
		form:           "contact-us",
		formsDir:       "examples/sales/forms",
		growth:         defaultGrowth(false),
	}
}

// quickConfig runs every workload for about a second: a smoke test of the tool, not a measure.
func quickConfig() config {
	c := defaultConfig()
	c.duration, c.warmup = time.Second, 100*time.Millisecond
	c.clients = []int{1, 8}
	c.otherWorkflows = []int{100}
	c.e2eRuns = 20
	c.sizes = []int{5_000}
	c.dataDuration, c.dataMax = time.Second, 50
	c.growth = defaultGrowth(true)
	return c
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		runBare(os.Args[2:])
		return
	}
	log.SetFlags(0)
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		log.Fatal("relata-bench: ", err)
	}
}

// nameSet parses a comma-separated list of names a flag allows; an empty list is nil (all).
func nameSet(flagName, what, list string, allowed []string) (map[string]bool, error) {
	if list == "" {
		return nil, nil
	}
	set := map[string]bool{}
	for _, w := range strings.Split(list, ",") {
		w = strings.TrimSpace(w)
		if !slices.Contains(allowed, w) {
			return nil, fmt.Errorf("%s: unknown %s %q (want %s)", flagName, what, w, strings.Join(allowed, ", "))
		}
		set[w] = true
	}
	return set, nil
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("relata-bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "run every workload for about a second (a smoke test; the figures mean little)")
	big := fs.Bool("big", false, "also measure 1,000,000 contacts (seeding takes minutes)")
	d := defaultConfig()
	duration := fs.Duration("duration", d.duration, "how long each measured cell runs")
	warmup := fs.Duration("warmup", d.warmup, "unmeasured warm-up before each cell")
	maxReq := fs.Int("max", d.maxRequests, "at most this many requests per cell")
	repeat := fs.Int("repeat", d.repeat, "measure each bare/Relata pair this many times, alternating the order, and pool the samples; "+
		"run the end-to-end workload this many times, each between two cells of bare creates, and report each")
	clients := fs.String("clients", joinInts(d.clients), "concurrent clients, comma-separated")
	same := fs.Int("sameWorkflows", d.sameWorkflows, "workflows enabled on contacts (the written object)")
	other := fs.String("otherWorkflows", joinInts(d.otherWorkflows), "workflow counts on other objects, measured in turn")
	e2e := fs.Int("e2e", d.e2eRuns, "end-to-end workflow runs (contacts created)")
	sizes := fs.String("contacts", joinInts(d.sizes), "contact counts of the data-size workload, comma-separated")
	dataDur := fs.Duration("dataDuration", d.dataDuration, "how long each data-size query is measured (default 10s with -big)")
	dataMax := fs.Int("dataMax", d.dataMax, "at most this many requests per data-size query")
	dataClients := fs.Int("dataClients", d.dataClients, "concurrent clients of the data-size queries")
	relataBin := fs.String("relata", "", "a relata binary to measure (default: go build ./cmd/relata from -src)")
	src := fs.String("src", "", "the Relata module directory (default: found with go env GOMOD)")
	form := fs.String("form", d.form, "slug of the form the form workload submits")
	formsDir := fs.String("formsDir", d.formsDir, "directory of form definitions, relative to -src")
	keep := fs.Bool("keep", false, "keep the temporary data directories and server logs")
	verbose := fs.Bool("v", false, "print progress details")
	serverCPUs := fs.String("serverCPUs", "", "run both servers pinned to these CPUs (a taskset list: 0, 0,1, 0-3) with GOMAXPROCS = their number; the load tool stays unpinned")
	only := fs.String("only", "", "run only these workloads, comma-separated: rest, workflows, e2e, forms, data, cpu")
	restOps := fs.String("rest", "", "run only these REST operations, comma-separated: "+strings.Join(restOpNames, ", "))
	applyGrowth := growthFlags(fs)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg := d
	if *quick {
		cfg = quickConfig()
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	if set["duration"] {
		cfg.duration = *duration
	}
	if set["warmup"] {
		cfg.warmup = *warmup
	}
	if set["max"] {
		cfg.maxRequests = *maxReq
	}
	if set["repeat"] {
		cfg.repeat = *repeat
	}
	if set["clients"] {
		if cfg.clients, err = parseInts(*clients); err != nil {
			return cfg, fmt.Errorf("-clients: %w", err)
		}
	}
	if set["sameWorkflows"] {
		cfg.sameWorkflows = *same
	}
	if set["otherWorkflows"] {
		if cfg.otherWorkflows, err = parseInts(*other); err != nil {
			return cfg, fmt.Errorf("-otherWorkflows: %w", err)
		}
	}
	if set["e2e"] {
		cfg.e2eRuns = *e2e
	}
	if set["contacts"] {
		if cfg.sizes, err = parseInts(*sizes); err != nil {
			return cfg, fmt.Errorf("-contacts: %w", err)
		}
	}
	if *big && !slices.Contains(cfg.sizes, 1_000_000) {
		cfg.sizes = append(cfg.sizes, 1_000_000)
		if !set["dataDuration"] {
			cfg.dataDuration = 10 * time.Second // slow queries still get a few samples
		}
	}
	slices.Sort(cfg.sizes)
	if set["dataDuration"] {
		cfg.dataDuration = *dataDur
	}
	if set["dataMax"] {
		cfg.dataMax = *dataMax
	}
	if set["dataClients"] {
		cfg.dataClients = *dataClients
	}
	if err := applyGrowth(&cfg, set); err != nil {
		return cfg, err
	}
	cfg.relataBin, cfg.srcDir = *relataBin, *src
	cfg.form, cfg.formsDir = *form, *formsDir
	cfg.keep, cfg.verbose = *keep, *verbose
	if *serverCPUs != "" {
		if _, err := countCPUs(*serverCPUs); err != nil {
			return cfg, err
		}
		cfg.serverCPUs = *serverCPUs
	}
	if cfg.only, err = nameSet("-only", "workload", *only, workloadNames); err != nil {
		return cfg, err
	}
	if cfg.restOps, err = nameSet("-rest", "operation", *restOps, restOpNames); err != nil {
		return cfg, err
	}
	if cfg.duration <= 0 || cfg.maxRequests <= 0 || cfg.repeat <= 0 || cfg.dataDuration <= 0 || cfg.dataMax <= 0 || cfg.dataClients <= 0 {
		return cfg, fmt.Errorf("durations and request counts must be positive")
	}
	for _, n := range cfg.sizes {
		if n < baseContacts {
			return cfg, fmt.Errorf("-contacts: %d is below the %d contacts every run starts with", n, baseContacts)
		}
	}
	return cfg, nil
}

// workloadNames are the steps of a run, in order; -only picks some.
var workloadNames = []string{"rest", "workflows", "e2e", "forms", "data", "cpu"}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// run performs a whole benchmark: tables go to out, progress to logw.
func run(ctx context.Context, cfg config, out, logw io.Writer) error {
	b, err := newBench(cfg, out, logw)
	if err != nil {
		return err
	}
	defer b.close()
	return b.run(ctx)
}
