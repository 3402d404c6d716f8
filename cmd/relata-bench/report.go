package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// table is a Markdown table with a title and notes.
type table struct {
	// left is how many leading columns hold text (left-aligned); at least 1.
	left  int
	title string
	note  string
	head  []string
	rows  [][]string
	notes []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// errors notes failed requests of a pair of results.
func (t *table) errors(label string, n int, r [2]result) {
	for k, name := range []string{"bare", "Relata"} {
		if r[k].errs > 0 {
			t.notes = append(t.notes, fmt.Sprintf("%s, %d: %s had %d failed requests, first: %s", label, n, name, r[k].errs, r[k].firstErr))
		}
	}
}

func (t *table) write(w io.Writer) {
	fmt.Fprintf(w, "\n### %s\n\n", t.title)
	if t.note != "" {
		fmt.Fprintf(w, "%s\n\n", t.note)
	}
	width := make([]int, len(t.head))
	for i, h := range t.head {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(width) {
				width[i] = max(width[i], utf8.RuneCountInString(c))
			}
		}
	}
	line := func(cells []string, numeric bool) {
		var b strings.Builder
		b.WriteString("|")
		for i := range t.head {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if numeric && i >= max(t.left, 1) {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.head, false)
	sep := make([]string, len(t.head))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
		if i >= max(t.left, 1) {
			sep[i] = sep[i][:width[i]-1] + ":"
		}
	}
	line(sep, false)
	for _, r := range t.rows {
		line(r, true)
	}
	for _, n := range t.notes {
		fmt.Fprintf(w, "\n- %s", n)
	}
	if len(t.notes) > 0 {
		fmt.Fprintln(w)
	}
}

func fmtRate(r result) string {
	if r.n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", r.rps())
}

// fmtCPU is a cell's server CPU time per request in µs, "—" when not measured.
func fmtCPU(r result) string {
	c := r.cpuPerReq()
	if c <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f µs", float64(c)/float64(time.Microsecond))
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
}

// ratio formats a/b ("0.93×"), "–" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func sortDurations(d []time.Duration) { slices.Sort(d) }

// writeHeader describes the machine and the run.
func writeHeader(w io.Writer, cfg config, relataBin string) {
	fmt.Fprintf(w, "## relata-bench, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- machine: %d CPUs (%s), %s memory, %s/%s\n", runtime.NumCPU(), cpuModel(), memTotal(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "- Go %s, PocketBase %s (bare and Relata alike)\n", strings.TrimPrefix(runtime.Version(), "go"), pbVersion())
	fmt.Fprintf(w, "- relata binary: %s\n", relataBin)
	fmt.Fprintf(w, "- load average at the start: %s\n", loadAvg())
	if cfg.serverCPUs != "" {
		n, _ := countCPUs(cfg.serverCPUs)
		fmt.Fprintf(w, "- servers pinned to CPU(s) %s (taskset) with GOMAXPROCS=%d; the load tool runs on every CPU\n", cfg.serverCPUs, n)
	}
	fmt.Fprintf(w, "- each cell: %s after a %s warm-up, at most %d requests, %d time(s) per side; clients %s; data sizes %s\n",
		cfg.duration, cfg.warmup, cfg.maxRequests, cfg.repeat, joinInts(cfg.clients), joinInts(cfg.sizes))
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	var kb int64
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &kb)
		}
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func pbVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/pocketbase/pocketbase" {
				return d.Version
			}
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/pocketbase/pocketbase").Output()
	if err == nil {
		return strings.TrimSpace(string(out))
	}
	return "unknown"
}
