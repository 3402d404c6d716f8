package main_test

import (
	"archive/zip"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplicationRPO writes companies from 4 clients into `serve --replicate file://R`,
// SIGKILLs the primary mid-load, restores R onto a second data directory with
// `relata restore` and measures what was lost: acknowledged writes missing from the
// restore, and how long before the kill the first of them was acknowledged (the RPO).
func TestReplicationRPO(t *testing.T) {
	t.Parallel()
	dir, replica := t.TempDir(), t.TempDir()
	mustRun(t, "superuser", "upsert", opsSuperEmail, opsSuperPassword, "--dir", dir)
	s := startServer(t, dir, "--replicate", "file://"+replica)
	tok, _ := s.login(t, "_superusers", opsSuperEmail, opsSuperPassword)

	var (
		seq   atomic.Int64
		mu    sync.Mutex
		acked = map[string]time.Time{} // name → when the 200 arrived
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("rpo-%07d", seq.Add(1))
				if code := s.apiQuiet(http.MethodPost, "/api/collections/companies/records", tok, map[string]any{"name": name}); code == 200 {
					mu.Lock()
					acked[name] = time.Now()
					mu.Unlock()
				} else if code == 0 {
					return // the server is gone
				}
			}
		}()
	}
	time.Sleep(6 * time.Second)
	killedAt := time.Now()
	if err := s.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown sync
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) < 100 {
		t.Fatalf("only %d writes acknowledged before the kill:\n%s", len(acked), s.logs)
	}

	// A backup of the replicating directory leaves Litestream's local state out.
	mustRun(t, "backup", "create", "after-kill.zip", "--dir", dir)
	if _, err := os.Stat(filepath.Join(dir, ".data.db-litestream")); err != nil {
		t.Fatalf("no Litestream state in the primary's directory: %v", err)
	}
	zr, err := zip.OpenReader(filepath.Join(dir, "backups", "after-kill.zip"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, ".data.db-litestream") {
			t.Errorf("the backup holds %s", f.Name)
		}
	}
	zr.Close()

	second := t.TempDir()
	out := mustRun(t, "restore", "--from", "file://"+replica, "--dir", second)
	if !strings.Contains(out, "restored") {
		t.Fatalf("restore said %q", out)
	}
	if out, err := run(t, "restore", "--from", "file://"+replica, "--dir", second); err == nil || !strings.Contains(out, "already exists") {
		t.Errorf("restore over an existing database: err %v, %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(second, "data.db")); err != nil {
		t.Fatal(err)
	}

	r := startServer(t, second)
	rtok, _ := r.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
	restored := map[string]bool{}
	for page := 1; ; page++ {
		var l list
		path := fmt.Sprintf("/api/collections/companies/records?perPage=500&page=%d&skipTotal=1&fields=name&filter=%s", page, urlEscape("name ~ 'rpo-%'"))
		if code := r.api(t, http.MethodGet, path, rtok, nil, &l); code != 200 {
			t.Fatalf("list restored = %d", code)
		}
		for _, it := range l.Items {
			restored[it["name"].(string)] = true
		}
		if len(l.Items) < 500 {
			break
		}
	}
	lost, firstLost, lastAck := 0, killedAt, time.Time{}
	for name, at := range acked {
		if at.After(lastAck) {
			lastAck = at
		}
		if !restored[name] {
			lost++
			if at.Before(firstLost) {
				firstLost = at
			}
		}
	}
	rpo := killedAt.Sub(firstLost)
	if lost == 0 {
		rpo = 0
	}
	// Writes are numbered in order; the newest restored one shows how far the replica got.
	newest := 0
	for name := range restored {
		n, _ := strconv.Atoi(strings.TrimPrefix(name, "rpo-"))
		newest = max(newest, n)
	}
	t.Logf("RPO: %d writes acknowledged in 6s, %d restored (newest rpo-%07d), %d acknowledged writes lost; "+
		"the oldest lost write was acknowledged %s before the SIGKILL (last acknowledged %s before)",
		len(acked), len(restored), newest, lost,
		rpo.Round(time.Millisecond), killedAt.Sub(lastAck).Round(time.Millisecond))
	if len(restored) == 0 {
		t.Fatal("nothing restored")
	}
	// With the default 1 s interval the loss must stay within a few intervals.
	if rpo > 3*time.Second {
		t.Errorf("RPO %s over 3 s with a 1 s replication interval", rpo)
	}
}

// TestReplicateBadURL: a replica Relata cannot write refuses `serve` with a message naming
// the URL and the way out, and exits non-zero.
func TestReplicateBadURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, want string }{
		{"s3://bucket/relata", "litestream companion process"},
		{"ftp://host/x", `unknown scheme "ftp"`},
		{"file://", "no path"},
		{"file:///proc/relata-replica", "first sync"}, // not writable: refused at start, not at the first crash
	}
	for _, tc := range tests {
		out, err := run(t, "serve", "--dir", t.TempDir(), "--http", freePort(t), "--replicate", tc.url)
		if err == nil || !strings.Contains(out, tc.want) || !strings.Contains(out, "--replicate") {
			t.Errorf("serve --replicate %s: err %v, output %q, want %q", tc.url, err, out, tc.want)
		}
	}
	if out, err := run(t, "restore", "--dir", t.TempDir()); err == nil || !strings.Contains(out, "--from URL is required") {
		t.Errorf("restore without --from: err %v, %q", err, out)
	}
}

// TestReplicationCleanStop: on SIGTERM the server ships the rest of the WAL before it exits,
// so a restore holds every acknowledged write.
func TestReplicationCleanStop(t *testing.T) {
	t.Parallel()
	dir, replica := t.TempDir(), t.TempDir()
	mustRun(t, "superuser", "upsert", opsSuperEmail, opsSuperPassword, "--dir", dir)
	s := startServer(t, dir, "--replicate", replica, "--replicateInterval", "10s")
	tok, _ := s.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
	const n = 300
	for i := 0; i < n; i++ {
		if code := s.apiQuiet(http.MethodPost, "/api/collections/companies/records", tok, map[string]any{"name": fmt.Sprintf("clean-%04d", i)}); code != 200 {
			t.Fatalf("create %d = %d", i, code)
		}
	}
	s.stop(t) // SIGTERM, well inside the 10 s interval
	second := t.TempDir()
	mustRun(t, "restore", "--from", replica, "--dir", second)
	r := startServer(t, second)
	rtok, _ := r.login(t, "_superusers", opsSuperEmail, opsSuperPassword)
	var l list
	path := "/api/collections/companies/records?perPage=1&filter=" + urlEscape("name ~ 'clean-%'")
	if code := r.api(t, http.MethodGet, path, rtok, nil, &l); code != 200 {
		t.Fatalf("list = %d", code)
	}
	if l.TotalItems != n {
		t.Fatalf("%d of %d writes restored after a clean stop", l.TotalItems, n)
	}
}
