package main_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	opsSuperEmail    = "root@ops.test"
	opsSuperPassword = "ops-root-password-1"
)

// crmCollections are the collections the example data fills; time triggers may add tasks
// and runs at start, so those are not compared.
var crmCollections = []string{"users", "companies", "contacts", "deals", "activities"}

// snapshotRecords reads every record of the CRM collections as the superuser: id → record.
func snapshotRecords(t *testing.T, s *server, tok string) map[string]map[string]any {
	t.Helper()
	all := map[string]map[string]any{}
	for _, coll := range crmCollections {
		for page := 1; ; page++ {
			var l list
			path := fmt.Sprintf("/api/collections/%s/records?perPage=500&page=%d&skipTotal=1", coll, page)
			if code := s.api(t, http.MethodGet, path, tok, nil, &l); code != 200 {
				t.Fatalf("list %s = %d", coll, code)
			}
			for _, r := range l.Items {
				all[coll+"/"+r["id"].(string)] = r
			}
			if len(l.Items) < 500 {
				break
			}
		}
	}
	return all
}

func backupSettings(t *testing.T, s *server, tok string) (string, int) {
	t.Helper()
	var st struct {
		Backups struct {
			Cron        string `json:"cron"`
			CronMaxKeep int    `json:"cronMaxKeep"`
		} `json:"backups"`
	}
	if code := s.api(t, http.MethodGet, "/api/settings", tok, nil, &st); code != 200 {
		t.Fatalf("settings = %d", code)
	}
	return st.Backups.Cron, st.Backups.CronMaxKeep
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("relata %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestBackupRestore: example data, the default schedule, `relata backup create`, then
// deletes, edits and inserts, then `relata backup restore` in place and into a fresh data
// directory: every record of the CRM collections is back exactly, the later insert is gone.
func TestBackupRestore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, "superuser", "upsert", opsSuperEmail, opsSuperPassword, "--dir", dir)
	s := startServer(t, dir, "--seed", "examples/sales")
	tok, _ := s.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
	if cron, keep := backupSettings(t, s, tok); cron != "0 3 * * *" || keep != 7 {
		t.Fatalf("default backup schedule = %q keep %d, want \"0 3 * * *\" keep 7", cron, keep)
	}
	before := snapshotRecords(t, s, tok)
	if len(before) < 50 {
		t.Fatalf("only %d records seeded", len(before))
	}
	s.stop(t)

	out := mustRun(t, "backup", "create", "snap.zip", "--dir", dir)
	if !strings.Contains(out, "backup created: snap.zip") {
		t.Fatalf("backup create said %q", out)
	}
	if out := mustRun(t, "backup", "list", "--dir", dir); !strings.HasPrefix(out, "snap.zip\t") {
		t.Fatalf("backup list = %q", out)
	}
	if out, err := run(t, "backup", "create", "snap.zip", "--dir", dir); err == nil || !strings.Contains(out, "snap.zip exists") {
		t.Fatalf("a second snap.zip: err %v, %q", err, out)
	}
	if out, err := run(t, "backup", "create", "../x.zip", "--dir", dir); err == nil || !strings.Contains(out, "must be a file name") {
		t.Fatalf("backup create ../x.zip: err %v, %q", err, out)
	}

	// The admin turns the schedule off: a restart must not turn it back on.
	s = startServer(t, dir)
	tok, _ = s.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
	if code := s.api(t, http.MethodPatch, "/api/settings", tok, map[string]any{"backups": map[string]any{"cron": ""}}, nil); code != 200 {
		t.Fatalf("patch settings = %d", code)
	}
	s.stop(t)
	s = startServer(t, dir)
	tok, _ = s.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
	if cron, _ := backupSettings(t, s, tok); cron != "" {
		t.Fatalf("the admin's empty schedule became %q after a restart", cron)
	}
	// Damage: delete 20 deals and 20 contacts, rename a company, add a deal.
	deleted := 0
	for key := range before {
		coll, id, _ := strings.Cut(key, "/")
		if (coll == "deals" || coll == "contacts") && deleted < 40 {
			if code := s.api(t, http.MethodDelete, "/api/collections/"+coll+"/records/"+id, tok, nil, nil); code == 204 {
				deleted++
			}
		}
		if coll == "companies" {
			s.api(t, http.MethodPatch, "/api/collections/companies/records/"+id, tok, map[string]any{"name": "Renamed Ltd"}, nil)
		}
	}
	if deleted < 40 {
		t.Fatalf("deleted only %d records", deleted)
	}
	if after := snapshotRecords(t, s, tok); reflect.DeepEqual(after, before) {
		t.Fatal("the damage did not change the data")
	}
	s.stop(t)

	// Restore into a fresh data directory (a second machine), then in place.
	fresh := t.TempDir()
	if out := mustRun(t, "backup", "restore", filepath.Join(dir, "backups", "snap.zip"), "--dir", fresh); !strings.Contains(out, "restored") {
		t.Fatalf("restore said %q", out)
	}
	mustRun(t, "backup", "restore", "snap.zip", "--dir", dir)
	for _, d := range []string{fresh, dir} {
		s := startServer(t, d)
		tok, _ := s.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
		got := snapshotRecords(t, s, tok)
		if len(got) != len(before) {
			t.Errorf("%s: %d records after restore, want %d", d, len(got), len(before))
		}
		for k, want := range before {
			if !reflect.DeepEqual(got[k], want) {
				t.Errorf("%s: record %s = %v, want %v", d, k, got[k], want)
				break
			}
		}
		s.stop(t)
	}

	// Bad input: a name that is not a backup, and a file that is not a zip.
	if out, err := run(t, "backup", "restore", "nope.zip", "--dir", dir); err == nil || !strings.Contains(out, `no backup named "nope.zip"`) {
		t.Errorf("restore of a missing backup: err %v, %q", err, out)
	}
	if out, err := run(t, "backup", "restore", "go.mod", "--dir", dir); err == nil || !strings.Contains(out, "not a readable backup zip") {
		t.Errorf("restore of a non-zip: err %v, %q", err, out)
	}
}
