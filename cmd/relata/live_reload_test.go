package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerPicksUpCLIChanges: with `serve` running, `relata workflow import` and `relata
// schema apply` run as separate processes on the same database; within 2 seconds the server
// acts on the new definitions.
func TestServerPicksUpCLIChanges(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser upsert: %v\n%s", err, o)
	}
	s := startServer(t, data)
	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")

	writeWorkflow := func(dir, description string) {
		t.Helper()
		def := `{"name": "tag-new-deals", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
		  "actions": [{"type": "update_record", "values": {"description": ` + description + `}}]}`
		if err := os.WriteFile(filepath.Join(dir, "tag-new-deals.json"), []byte(def), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// createDeal creates a deal 2 seconds after the CLI returned and returns the description
	// the workflow gave it.
	createDeal := func(values map[string]any) string {
		t.Helper()
		time.Sleep(2 * time.Second)
		var rec map[string]any
		if code := s.api(t, http.MethodPost, "/api/collections/deals/records", tok, values, &rec); code != 200 {
			t.Fatalf("create deal = %d %v", code, rec)
		}
		id, _ := rec["id"].(string)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			s.api(t, http.MethodGet, "/api/collections/deals/records/"+id, tok, nil, &rec)
			if d, _ := rec["description"].(string); d != "" {
				return d
			}
			time.Sleep(100 * time.Millisecond)
		}
		return ""
	}

	// 1. A workflow imported while serving acts on the next deal.
	wf := t.TempDir()
	writeWorkflow(wf, `"v1"`)
	if o, err := run(t, "workflow", "import", wf, "--dir", data); err != nil {
		t.Fatalf("workflow import: %v\n%s", err, o)
	}
	if got := createDeal(map[string]any{"name": "First", "stage": "lead"}); got != "v1" {
		t.Fatalf("first deal's description = %q; want v1 (the server ignored the import)\n%s", got, s.logs)
	}

	// 2. A field applied while serving, and a new version of the workflow that uses it.
	objs := t.TempDir()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "schemas", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(repoRoot, "schemas", "objects", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "deals.json" {
			var o map[string]any
			if err := json.Unmarshal(b, &o); err != nil {
				t.Fatal(err)
			}
			o["fields"] = append(o["fields"].([]any), map[string]any{"name": "region", "type": "text", "label": "Region"})
			b, _ = json.Marshal(o)
		}
		if err := os.WriteFile(filepath.Join(objs, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if o, err := run(t, "schema", "apply", "--schemasDir", objs, "--dir", data); err != nil || !strings.Contains(o, "region") {
		t.Fatalf("schema apply: %v\n%s", err, o)
	}
	writeWorkflow(wf, `"=\"v2 \" + record.region"`)
	if o, err := run(t, "workflow", "import", wf, "--schemasDir", objs, "--dir", data); err != nil {
		t.Fatalf("workflow import v2: %v\n%s", err, o)
	}
	if got := createDeal(map[string]any{"name": "Second", "stage": "lead", "region": "north"}); got != "v2 north" {
		t.Fatalf("second deal's description = %q; want %q\n%s", got, "v2 north", s.logs)
	}
}
