package main_test

import (
	"archive/zip"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// TestPrivacyCommands answers a person's requests from the command line on the example data:
// a dry run changes nothing, the export writes a ZIP, the erasure leaves the trail intact.
func TestPrivacyCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := run(t, "seed", "examples/sales", "--dir", dir); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	var contacts []struct {
		Email    string `json:"email"`
		FullName string `json:"full_name"`
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "examples/sales/seed/contacts.json"))
	if err != nil || json.Unmarshal(b, &contacts) != nil {
		t.Fatalf("read the example contacts: %v", err)
	}
	who := contacts[0]
	if out, err := run(t, "privacy", "export", "--dir", dir); err == nil {
		t.Errorf("export without a person or a file succeeded:\n%s", out)
	}
	out, err := run(t, "privacy", "erase", "--email", who.Email, "--dir", dir)
	if err != nil || !strings.Contains(out, "contacts: 1") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("dry erase: %v\n%s", err, out)
	}
	zipPath := filepath.Join(t.TempDir(), "person.zip")
	if out, err := run(t, "privacy", "export", "--email", who.Email, "-o", zipPath, "--dir", dir); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	z, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	z.Close()
	if !slices.Contains(names, "json/contacts.json") || !slices.Contains(names, "summary.html") {
		t.Errorf("the ZIP holds %v", names)
	}
	out, err = run(t, "privacy", "erase", "--email", who.Email, "--yes", "--dir", dir)
	if err != nil || !strings.Contains(out, `"contacts": 1`) {
		t.Fatalf("erase: %v\n%s", err, out)
	}
	if out, err := run(t, "audit", "verify", "--dir", dir); err != nil {
		t.Fatalf("verify after erasure: %v\n%s", err, out)
	}
	rows := dbQuery(t, dir, "SELECT count(*) FROM contacts WHERE email = ? OR full_name = ?", who.Email, who.FullName)
	defer rows.Close()
	var n int
	if rows.Next() && rows.Scan(&n) == nil && n != 0 {
		t.Errorf("%d contacts still hold the erased person", n)
	}
}
