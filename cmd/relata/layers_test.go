package main_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportLayers enforces the import direction of STYLE.md (B2): arrows point down only.
// Each package lists the Relata packages it must never depend on, directly or not.
func TestImportLayers(t *testing.T) {
	const mod = "github.com/relata/relata/"
	forbidden := map[string][]string{
		"schemas":             {"workflows", "hooks", "migrations", "pb_public", "cmd"},
		"schemas/forms":       {"workflows", "hooks", "cmd", "schemas/insights"},
		"schemas/audit":       {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms", "schemas/insights", "schemas/privacy"},
		"schemas/transfer":    {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms", "schemas/insights", "schemas/privacy"}, // schemas/audit: bulk imports append their own entries
		"schemas/dedupe":      {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms", "schemas/insights", "schemas/privacy", "schemas/audit", "schemas/transfer"},
		"schemas/stmtcache":   {"schemas", "workflows", "hooks", "migrations", "pb_public", "cmd", "insights"}, // a database/sql driver wrapper: below everything
		"schemas/tokens":      {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms", "schemas/insights", "schemas/privacy", "schemas/transfer"},
		"schemas/webhooks":    {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms", "schemas/insights", "schemas/privacy", "schemas/transfer"},
		"schemas/privacy":     {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms", "schemas/insights"},
		"schemas/insights":    {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms"},
		"insights/scoring":    {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms", "schemas/audit", "schemas/privacy"},
		"workflows/condition": {"workflows", "workflows/sandbox", "workflows/outbox", "hooks", "schemas/forms", "cmd"},
		"workflows/sandbox":   {"schemas", "workflows", "workflows/condition", "workflows/outbox", "hooks", "cmd"},
		"workflows/outbox":    {"workflows", "workflows/condition", "workflows/sandbox", "workflows/inbox", "hooks", "schemas/forms", "cmd"},
		"workflows/inbox":     {"workflows", "workflows/condition", "workflows/sandbox", "hooks", "schemas/forms", "schemas/insights", "migrations", "cmd"},
		"workflows/notify":    {"workflows", "workflows/condition", "workflows/sandbox", "workflows/inbox", "hooks", "schemas/forms", "migrations", "cmd"},
		"schemas/segments":    {"workflows", "hooks", "migrations", "pb_public", "cmd", "schemas/forms", "schemas/insights", "schemas/privacy", "schemas/audit", "schemas/transfer"},
		"workflows/campaigns": {"workflows", "workflows/condition", "workflows/sandbox", "workflows/inbox", "hooks", "schemas/forms", "schemas/insights", "migrations", "cmd"},
		"workflows":           {"hooks", "schemas/forms", "cmd", "migrations"},
		"hooks":               {"cmd", "migrations"},
		"migrations":          {"schemas", "workflows", "hooks", "cmd"},
		"pb_public":           {"schemas", "workflows", "hooks", "migrations", "cmd"},
	}
	for pkg, bad := range forbidden {
		if files, _ := filepath.Glob(filepath.Join(repoRoot, pkg, "*.go")); len(files) == 0 {
			continue // the package does not exist yet
		}
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", mod+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		for _, dep := range deps {
			rel, ok := strings.CutPrefix(dep, mod)
			if !ok || rel == pkg {
				continue
			}
			for _, b := range bad {
				if rel == b || strings.HasPrefix(rel, b+"/") && !strings.HasPrefix(pkg, b+"/") && !allowedBelow(pkg, rel) {
					t.Errorf("%s imports %s: against the layering in STYLE.md B2", pkg, rel)
				}
			}
		}
	}
}

// allowedBelow reports whether rel is a leaf that pkg may use although it sits under a
// forbidden folder (workflows may import its own leaves, for instance).
func allowedBelow(pkg, rel string) bool {
	return pkg == "workflows" && strings.HasPrefix(rel, "workflows/")
}
