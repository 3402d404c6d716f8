package main_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditVerifyCommand seeds the example data (every record is an audit entry), verifies
// the trail, then edits one entry with SQL as someone holding the database file would: the
// command names the entry and exits non-zero.
func TestAuditVerifyCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := run(t, "seed", "examples/sales", "--dir", dir); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	out, err := run(t, "audit", "verify", "--dir", dir)
	if err != nil || !strings.Contains(out, "the audit trail is intact") {
		t.Fatalf("verify after seeding: %v\n%s", err, out)
	}
	// The example data has 650 records: the trail holds at least that many entries.
	var n int
	var head string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " entries, head ") {
			_, _ = fmt.Sscanf(line, "%d entries, head %s", &n, &head)
		}
	}
	if n < 650 || head == "" {
		t.Fatalf("verify reports %q; want at least 650 entries and a head", out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE relata_audit SET changes = json_set(changes, '$.amount.new', 1) WHERE seq = 200`); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "audit", "verify", "--dir", dir)
	if err == nil || !strings.Contains(out, "entry 200") || !strings.Contains(out, "edited") {
		t.Fatalf("verify after an edit: err=%v\n%s", err, out)
	}
	// Entries cut from the end are found against a head printed before.
	if _, err := db.Exec(`DELETE FROM relata_audit WHERE seq >= 600; UPDATE relata_audit SET changes = changes`); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "audit", "verify", "--dir", dir, "--head", head)
	if err == nil || !strings.Contains(out, "entries were removed from the end") {
		t.Fatalf("verify --head after truncation: err=%v\n%s", err, out)
	}
}
