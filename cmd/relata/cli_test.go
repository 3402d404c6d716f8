package main_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCode runs a relata command in the checkout and returns its combined output and exit code.
func runCode(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, relataBin, args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		t.Fatalf("relata %v: %v", args, err)
	}
	return string(out), 0
}

// TestCLIExitCodes runs the binary for each case and checks its exit code and message: every
// failure exits non-zero and names the flag, command or path at fault.
func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	oneProblem := t.TempDir()
	if err := os.WriteFile(filepath.Join(oneProblem, "things.json"), []byte(`{"name": "things", "label": {"singular": "Thing", "plural": "Things"}, "titleField": "title",
  "fields": [{"name": "title", "type": "text"}], "access": {"scope": "nobody"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyDir := t.TempDir()
	form, err := filepath.Abs(filepath.Join(repoRoot, "examples/sales/forms/contact-us.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		exit     int    // 0, or 1 for any failure
		want     string // in the output
		wantNot  string // not in the output
		wantNot2 string
	}{
		{"unknown serve flag", []string{"serve", "--prot", "1"}, 1, "unknown flag: --prot", "", ""},
		{"unknown command", []string{"bogus"}, 1, `unknown command "bogus"`, "", ""},
		{"seed of a missing directory", []string{"seed", "/does-not-exist"}, 1, "/does-not-exist: no such directory", "", ""},
		{"seed of an empty directory", []string{"seed", emptyDir}, 1, emptyDir + " holds no *.json seed files", "", ""},
		{"schema validate of a missing directory", []string{"schema", "validate", "/missing"}, 1, "/missing: no such directory", ".:", ""},
		{"schema validate of an empty directory", []string{"schema", "validate", emptyDir}, 1, emptyDir + ": no *.json object definitions found", ".:", ""},
		{"schema validate counts one problem", []string{"schema", "validate", oneProblem}, 1, oneProblem + ": 1 problem\n", "1 problems", ""},
		{"schema validate of the defaults", []string{"schema", "validate"}, 0, "embedded defaults: 4 objects, all valid", "", ""},
		{"form validate of a file", []string{"form", "validate", form}, 0, "1 form, all valid", "0 forms", ""},
		{"form validate of an empty directory", []string{"form", "validate", emptyDir}, 1, emptyDir + ": no *.json form definitions found", "all valid", ""},
		{"form validate of a missing path", []string{"form", "validate", "/missing-forms"}, 1, "/missing-forms: no such file or directory", "", ""},
		{"workflow import of a missing directory", []string{"workflow", "import", "/missing-workflows"}, 1, "/missing-workflows: no such directory", "1 problems", ""},
		{"version", []string{"--version"}, 0, "PocketBase v0.39", "(untracked)", ""},
		{"serve-only flags are not global", []string{"schema", "--help"}, 0, "--schemasDir", "--seed", "--noAutoApply"},
		{"serve has its flags", []string{"serve", "--help"}, 0, "--workflowsDir", "", ""},
		{"seed flag on another command", []string{"schema", "validate", "--seed", "examples/sales"}, 1, "unknown flag: --seed", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := c.args
			if c.args[0] != "--version" {
				args = append(args, "--dir", t.TempDir())
			}
			out, code := runCode(t, args...)
			if (code != 0) != (c.exit != 0) {
				t.Errorf("relata %s exits %d, want %d\n%s", strings.Join(c.args, " "), code, c.exit, out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("relata %s: output lacks %q:\n%s", strings.Join(c.args, " "), c.want, out)
			}
			for _, not := range []string{c.wantNot, c.wantNot2} {
				if not != "" && strings.Contains(out, not) {
					t.Errorf("relata %s: output has %q:\n%s", strings.Join(c.args, " "), not, out)
				}
			}
		})
	}
}

// TestWorkflowTestHelpNamesExamples checks that the help of `workflow test` names workflows
// that exist in examples/sales/workflows, and that its examples run.
func TestWorkflowTestHelpNamesExamples(t *testing.T) {
	t.Parallel()
	out, code := runCode(t, "workflow", "test", "--help")
	if code != 0 {
		t.Fatalf("help exits %d:\n%s", code, out)
	}
	names := regexp.MustCompile(`relata workflow test ([a-z0-9-]+)`).FindAllStringSubmatch(out, -1)
	if len(names) == 0 {
		t.Fatalf("no example in the help:\n%s", out)
	}
	for _, m := range names {
		if _, err := os.Stat(filepath.Join(repoRoot, "examples/sales/workflows", m[1]+".json")); err != nil {
			t.Errorf("the help names workflow %q, which examples/sales does not have", m[1])
		}
	}
}

// TestFirstStartBanner checks the first start's superuser hint: the command must work from
// where the README runs Relata, not PocketBase's `go run .`.
func TestFirstStartBanner(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.logs.String(), "superuser upsert") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	logs := s.logs.String()
	// The test binary lives in the temp directory, where PocketBase assumes `go run`.
	if !strings.Contains(logs, "go run ./cmd/relata superuser upsert EMAIL PASSWORD") {
		t.Errorf("the banner does not name Relata's command:\n%s", logs)
	}
	if strings.Contains(logs, "go run . superuser") {
		t.Errorf("the banner names PocketBase's `go run .`:\n%s", logs)
	}
	// A graceful stop of serve is a success.
	s.stop(t)
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve stopped with SIGTERM exits %d:\n%s", code, s.logs)
	}
}

// TestSchemaRoundTripCLI follows the README with the binary: serve the default model, add a
// text field in the dashboard and give it a value, stop, `relata schema export` (to another
// directory, then to the default one); each following serve starts, the field stays text,
// `schema diff` reports nothing, and nothing is written to a migrations directory.
func TestSchemaRoundTripCLI(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data := filepath.Join(root, "pb_data")
	if out, code := runCode(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); code != 0 {
		t.Fatalf("superuser: %s", out)
	}
	s := startServer(t, data)
	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
	var coll map[string]any
	if code := s.api(t, http.MethodGet, "/api/collections/deals", tok, nil, &coll); code != 200 {
		t.Fatalf("get deals: %d", code)
	}
	coll["fields"] = append(coll["fields"].([]any), map[string]any{"name": "region", "type": "text"})
	if code := s.api(t, http.MethodPatch, "/api/collections/deals", tok, coll, nil); code != 200 {
		t.Fatalf("add deals.region: %d", code)
	}
	var deal map[string]any
	if code := s.api(t, http.MethodPost, "/api/collections/deals/records", tok, map[string]any{"name": "North deal", "stage": "lead", "region": "north"}, &deal); code != 200 {
		t.Fatalf("create deal: %d %v", code, deal)
	}
	s.stop(t)
	// PocketBase's automigrate would write into pb_data/../migrations (the checkout's
	// migrations/ under `go run`); the test binary runs from the temp dir, as `go run` does.
	if _, err := os.Stat(filepath.Join(root, "migrations")); err == nil {
		t.Error("a dashboard change wrote automigrate files")
	}

	elsewhere := filepath.Join(root, "exported")
	if out, code := runCode(t, "schema", "export", elsewhere, "--dir", data); code != 0 || !strings.Contains(out, "--schemasDir "+elsewhere) {
		t.Fatalf("export elsewhere exits %d:\n%s", code, out)
	}
	startServer(t, data).stop(t) // fails the test if serve refuses to start

	if out, code := runCode(t, "schema", "export", "--dir", data); code != 0 || !strings.Contains(out, filepath.Join(root, "pb_schemas", "deals.json")) {
		t.Fatalf("export to the default directory exits %d:\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(root, "pb_schemas", "deals.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`"name": "region",\s+"type": "text"`).Match(b) {
		t.Errorf("deals.region is not exported as text:\n%s", b)
	}
	if out, code := runCode(t, "schema", "diff", "--dir", data); code != 0 || !strings.Contains(out, "in sync") {
		t.Errorf("diff after export exits %d, want in sync:\n%s", code, out)
	}
	s = startServer(t, data)
	var got map[string]any
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records/"+deal["id"].(string), tok, nil, &got); code != 200 || got["region"] != "north" {
		t.Errorf("the dashboard field's value after the round trip: %d %v", code, got)
	}
}

// TestReleaseVersion builds the binary as a release is built and checks --version.
func TestReleaseVersion(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "relata")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v1.2.3", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "version v1.2.3, PocketBase v0.39") {
		t.Errorf("--version of a release = %v %q", err, out)
	}
}
