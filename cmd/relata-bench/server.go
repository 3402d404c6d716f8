package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// side is one of the two servers under test.
type side struct {
	name string // "bare" or "relata"
	dir  string // its data dir
	url  string // http://127.0.0.1:PORT while running

	bin  string   // what to execute
	argv []string // arguments before the serve flags
	env  []string // extra environment
	// cpus, when set, is a taskset CPU list ("0", "0,1"): the server runs pinned to those
	// CPUs with GOMAXPROCS set to their number (-serverCPUs).
	cpus string

	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	logFile *os.File

	// tok acts as the bench sales user, dataTok as the data-size queries' user, mgrTok as
	// the manager.
	tok, dataTok, mgrTok string
	// seq numbers the records this side's create workloads make (unique emails).
	seq atomic.Int64
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs the side's server on a free loopback port and waits until /api/health answers.
func (s *side) start(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	s.logPath = filepath.Join(filepath.Dir(s.dir), s.name+".log")
	s.logFile, err = os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append(append([]string{}, s.argv...), "serve", "--http", addr, "--dir", s.dir, "--dev=false")
	cmd := exec.Command(s.bin, args...)
	// A plain program name as argv[0]: PocketBase takes a binary under the temp or cache dir
	// for `go run` and would switch on its dev mode (SQL logging) and automigrate.
	cmd.Args[0] = s.name
	cmd.Dir = filepath.Dir(s.dir)
	cmd.Env = append(os.Environ(), s.env...)
	if s.cpus != "" {
		// taskset pins itself and execs the server in place (same pid, so /proc CPU time
		// still reads the server); the server's argv[0] is then its path, which only changes
		// PocketBase's guess of its base directory — --dir and --dev=false are explicit.
		n, err := countCPUs(s.cpus)
		if err != nil {
			s.logFile.Close()
			return err
		}
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			s.logFile.Close()
			return fmt.Errorf("-serverCPUs needs taskset (util-linux): %w", err)
		}
		cmd.Path = taskset
		cmd.Args = append([]string{"taskset", "-c", s.cpus, s.bin}, args...)
		cmd.Env = append(cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", n))
	}
	cmd.Stdout, cmd.Stderr = s.logFile, s.logFile
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		s.logFile.Close()
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	s.cmd, s.url, s.done = cmd, "http://"+addr, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("%s exited at start:\n%s", s.name, s.logTail())
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		res, err := http.Get(s.url + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	s.stop()
	return fmt.Errorf("%s did not answer within 90s:\n%s", s.name, s.logTail())
}

// maxCPU bounds the CPU numbers of a -serverCPUs list (taskset takes larger ones, but no
// machine this tool measures has them).
const maxCPU = 4096

// countCPUs returns how many CPUs a taskset list ("0", "0,1", "0-3") names, counting a CPU
// named twice twice (taskset pins to the union; GOMAXPROCS then exceeds it, harmlessly).
func countCPUs(list string) (int, error) {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= maxCPU {
			return 0, fmt.Errorf("-serverCPUs: %q is not a CPU list (like 0 or 0,1 or 0-3)", list)
		}
		n += b - a + 1
	}
	return n, nil
}

// stop ends the server with SIGTERM (SIGKILL after 20s) and waits for it.
func (s *side) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	s.logFile.Close()
}

// logTail is the end of the server's output, for error messages.
func (s *side) logTail() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	text := string(data)
	if len(text) > 4000 {
		text = "…" + text[len(text)-4000:]
	}
	return strings.TrimSpace(text)
}

// runCommand runs a relata command (not serve) to completion.
func runCommand(ctx context.Context, bin, dir string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--dev=false")...)
	cmd.Args[0] = "relata"
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("relata %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// buildRelata builds ./cmd/relata of the module at src into dir.
func buildRelata(ctx context.Context, src, dir string) (string, error) {
	if src == "" {
		return "", errors.New("not inside the Relata module: run from the repository or pass -src or -relata")
	}
	bin := filepath.Join(dir, "relata")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/relata")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/relata: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleDir returns the Relata module directory (-src, or found with go env GOMOD).
func moduleDir(ctx context.Context, src string) string {
	if src != "" {
		return src
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return ""
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return ""
	}
	return filepath.Dir(gomod)
}

// cpu is the CPU time the side's server process has used so far.
func (s *side) cpu() (time.Duration, bool) {
	c, err := procCPU(s)
	return c, err == nil
}
