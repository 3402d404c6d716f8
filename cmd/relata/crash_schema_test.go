package main_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/pocketbase/pocketbase/core" // registers the "sqlite" database/sql driver (modernc)
)

// TestCrashDuringSchemaApply kills `relata schema apply` with SIGKILL while it applies a big
// additive change (new objects, new fields on objects holding data) and checks that the
// database is then exactly as before the apply or exactly as after it, never in between:
// the same tables, the same collections with the same fields, the same applied state in
// relata_objects and history in relata_schema_changes. A following `relata serve` with the
// new definitions starts and leaves the database in the "after" state.
//
// The kills are spread over the time a complete apply takes; a probe that tries to take
// SQLite's write lock tells which kills landed while a write transaction was open.
func TestCrashDuringSchemaApply(t *testing.T) {
	t.Parallel()
	base, defs := t.TempDir(), t.TempDir()
	if o, err := run(t, "seed", "examples/sales", "--dir", base); err != nil {
		t.Fatalf("seed: %v\n%s", err, o)
	}
	writeBigChange(t, defs)
	before := dbState(t, base)

	// A complete apply, on a copy: the "after" state, and how long its write transaction
	// holds SQLite's write lock.
	ref := copyData(t, base)
	_, _, txTime := applyAndKill(t, ref, defs, -1)
	after := dbState(t, ref)
	if reflect.DeepEqual(before, after) {
		t.Fatal("the change applies nothing")
	}
	if txTime <= 0 {
		t.Fatal("the probe never saw the apply's write transaction")
	}
	t.Logf("the apply's write transaction takes %v: %d → %d collections", txTime.Round(time.Millisecond), len(before.Collections), len(after.Collections))

	const attempts = 6
	var killedInTx, killed, outcomeBefore, outcomeAfter int
	for i := range attempts {
		dir := copyData(t, base)
		// Kill at 5%, 23%, 41% … 95% of the transaction.
		frac := 0.05 + 0.9*float64(i)/float64(attempts-1)
		wasKilled, inTx, _ := applyAndKill(t, dir, defs, frac*float64(txTime))
		got := dbState(t, dir)
		switch {
		case reflect.DeepEqual(got, before):
			outcomeBefore++
		case reflect.DeepEqual(got, after):
			outcomeAfter++
		default:
			t.Fatalf("attempt %d (kill at %.0f%% of the transaction, lock held: %v): the database is neither before nor after the apply:\n%s",
				i, frac*100, inTx, diffStates(got, before, after))
		}
		if wasKilled {
			killed++
			if inTx {
				killedInTx++
				if reflect.DeepEqual(got, after) {
					t.Errorf("attempt %d: killed inside the write transaction, yet the change is there", i)
				}
			}
		}
		// The next start applies the change (or finds it applied) and serves.
		if i%2 == 0 || i == attempts-1 {
			s := startServer(t, dir, "--schemasDir", defs)
			s.stop(t)
			// serve also sets up collections of other features (forms' consents): compare
			// the objects only.
			if got := dbState(t, dir).objects(); !reflect.DeepEqual(got, after.objects()) {
				t.Fatalf("attempt %d: after a restart the objects are not in the applied state:\n%s", i, diffStates(got, before.objects(), after.objects()))
			}
		}
	}
	t.Logf("%d attempts: %d killed (%d inside a write transaction), %d left the database before the apply, %d after it",
		attempts, killed, killedInTx, outcomeBefore, outcomeAfter)
	if killedInTx == 0 {
		t.Error("no kill landed inside the apply's write transaction")
	}
}

// applyAndKill runs `relata schema apply` on dir. Once a probe sees SQLite's write lock held
// (the apply's transaction has begun), it waits at nanoseconds and kills the command with
// SIGKILL; with at < 0 it lets the command finish. It reports whether the kill came before
// the command ended, whether the lock was held at that moment, and for how long the lock was
// seen held in all.
func applyAndKill(t *testing.T, dir, defs string, at float64) (killed, inTx bool, held time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, relataBin, "schema", "apply", "--dir", dir, "--schemasDir", defs, "--dev=false")
	cmd.Dir = repoRoot
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	var locked atomic.Bool
	var firstLocked, lastLocked atomic.Int64 // unix nanoseconds
	stopProbe := make(chan struct{})
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		probeWriteLock(filepath.Join(dir, "data.db"), &locked, &firstLocked, &lastLocked, stopProbe)
	}()
	if at >= 0 {
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-time.After(time.Millisecond):
			}
			first := firstLocked.Load()
			if first == 0 || time.Since(time.Unix(0, first)) < time.Duration(at) {
				continue
			}
			inTx = locked.Load()
			killed = cmd.Process.Signal(syscall.SIGKILL) == nil
			<-done
			if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && !st.Signaled() {
				killed = false // it had exited on its own just before
			}
			break
		}
	}
	<-done
	close(stopProbe)
	<-probeDone
	if at < 0 && !cmd.ProcessState.Success() {
		t.Fatalf("relata schema apply failed:\n%s", out)
	}
	if f := firstLocked.Load(); f > 0 {
		held = time.Duration(lastLocked.Load() - f)
	}
	return killed, inTx, held
}

// probeWriteLock tries every few milliseconds to take SQLite's write lock on path without
// waiting for it. It sets locked to whether someone else held it, and records when it first
// saw the lock held twice in a row (a transaction, not a passing write) and when last.
func probeWriteLock(path string, locked *atomic.Bool, first, last *atomic.Int64, stop <-chan struct{}) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	streak := 0
	for {
		select {
		case <-stop:
			return
		case <-time.After(2 * time.Millisecond):
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			continue
		}
		held := false
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err == nil {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
		} else {
			msg := strings.ToLower(err.Error())
			held = strings.Contains(msg, "locked") || strings.Contains(msg, "busy")
		}
		conn.Close()
		locked.Store(held)
		if !held {
			streak = 0
			continue
		}
		streak++
		now := time.Now().UnixNano()
		if streak == 2 && first.Load() == 0 {
			first.Store(now)
		}
		if first.Load() != 0 {
			last.Store(now)
		}
	}
}

// writeBigChange writes the default definitions with ten new fields each, plus 30 new
// objects of 24 fields (relations, selects, pipelines, indexes) into dir.
func writeBigChange(t *testing.T, dir string) {
	t.Helper()
	extra := func(prefix string) []any {
		return []any{
			map[string]any{"name": prefix + "_code", "type": "text", "max": 50},
			map[string]any{"name": prefix + "_score", "type": "number", "min": 0, "max": 100},
			map[string]any{"name": prefix + "_level", "type": "select", "options": []any{"low", "mid", "high"}},
			map[string]any{"name": prefix + "_since", "type": "date"},
			map[string]any{"name": prefix + "_site", "type": "url"},
			map[string]any{"name": prefix + "_mail", "type": "email"},
			map[string]any{"name": prefix + "_flag", "type": "boolean"},
			map[string]any{"name": prefix + "_notes", "type": "longtext"},
			map[string]any{"name": prefix + "_labels", "type": "tags"},
			map[string]any{"name": prefix + "_budget", "type": "currency", "currency": "EUR"},
		}
	}
	for _, name := range []string{"companies", "contacts", "deals", "activities"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, "schemas/objects", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := json.Unmarshal(data, &obj); err != nil {
			t.Fatal(err)
		}
		obj["fields"] = append(obj["fields"].([]any), extra("x")...)
		writeJSON(t, filepath.Join(dir, name+".json"), obj)
	}
	for i := range 30 {
		name := fmt.Sprintf("crash_object_%02d", i)
		fields := []any{
			map[string]any{"name": "title", "type": "text", "required": true, "max": 200},
			map[string]any{"name": "contact", "type": "relation", "target": "contacts"},
			map[string]any{"name": "company", "type": "relation", "target": "companies"},
			map[string]any{"name": "phase", "type": "stage", "pipeline": "flow", "default": "new"},
			map[string]any{"name": "owner", "type": "owner"},
		}
		fields = append(fields, extra("a")...)
		fields = append(fields, extra("b")[:9]...)
		writeJSON(t, filepath.Join(dir, name+".json"), map[string]any{
			"name":       name,
			"label":      map[string]any{"singular": "Item", "plural": "Items"},
			"titleField": "title",
			"fields":     fields,
			"pipelines": []any{map[string]any{"name": "flow", "stages": []any{
				map[string]any{"name": "new", "probability": 0},
				map[string]any{"name": "done", "probability": 100, "won": true},
			}}},
			"indexes": []any{map[string]any{"fields": []any{"owner", "phase"}}, map[string]any{"fields": []any{"a_code"}, "unique": true}},
			"access":  map[string]any{"scope": "owner"},
		})
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyData copies a stopped server's data dir to a new temp dir.
func copyData(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue // storage/, backups/: nothing the schema touches
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// state is what a schema apply changes, read straight from SQLite.
type state struct {
	Tables      []string            // every table
	Collections map[string][]string // collection → its fields, as "name:type"
	Columns     map[string][]string // table of a collection → its columns
	Applied     map[string]string   // relata_objects: object → definition JSON
	History     int                 // relata_schema_changes rows
}

// objects is the part of s that concerns the CRM objects (those in relata_objects).
func (s state) objects() state {
	o := state{Collections: map[string][]string{}, Columns: map[string][]string{}, Applied: s.Applied, History: s.History}
	for name := range s.Applied {
		if slices.Contains(s.Tables, name) {
			o.Tables = append(o.Tables, name)
		}
		o.Collections[name], o.Columns[name] = s.Collections[name], s.Columns[name]
	}
	sort.Strings(o.Tables)
	return o
}

func dbState(t *testing.T, dir string) state {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "data.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := state{Collections: map[string][]string{}, Columns: map[string][]string{}, Applied: map[string]string{}}
	strs := func(q string, args ...any) []string {
		rows, err := db.Query(q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	st.Tables = strs("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	rows, err := db.Query("SELECT name, fields FROM _collections")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, fields string
		if err := rows.Scan(&name, &fields); err != nil {
			t.Fatal(err)
		}
		var fs []struct{ Name, Type string }
		if err := json.Unmarshal([]byte(fields), &fs); err != nil {
			t.Fatalf("fields of %s: %v", name, err)
		}
		for _, f := range fs {
			st.Collections[name] = append(st.Collections[name], f.Name+":"+f.Type)
		}
		sort.Strings(st.Collections[name])
	}
	rows.Close()
	for name := range st.Collections {
		if slices.Contains(st.Tables, name) {
			st.Columns[name] = strs("SELECT name FROM pragma_table_info(?) ORDER BY name", name)
		}
	}
	rows, err = db.Query("SELECT name, definition FROM relata_objects")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		st.Applied[name] = def
	}
	rows.Close()
	if err := db.QueryRow("SELECT count(*) FROM relata_schema_changes").Scan(&st.History); err != nil {
		t.Fatal(err)
	}
	return st
}

// diffStates says how got differs from the before and after states.
func diffStates(got, before, after state) string {
	var b strings.Builder
	for _, ref := range []struct {
		name string
		s    state
	}{{"before", before}, {"after", after}} {
		fmt.Fprintf(&b, "compared with %s:", ref.name)
		if !reflect.DeepEqual(got.Tables, ref.s.Tables) {
			fmt.Fprintf(&b, " tables %d vs %d;", len(got.Tables), len(ref.s.Tables))
		}
		for name, f := range ref.s.Collections {
			if !reflect.DeepEqual(got.Collections[name], f) {
				fmt.Fprintf(&b, " collection %s differs;", name)
			}
		}
		for name := range got.Collections {
			if _, ok := ref.s.Collections[name]; !ok {
				fmt.Fprintf(&b, " extra collection %s;", name)
			}
		}
		if !reflect.DeepEqual(got.Columns, ref.s.Columns) {
			b.WriteString(" columns differ;")
		}
		if !reflect.DeepEqual(got.Applied, ref.s.Applied) {
			fmt.Fprintf(&b, " relata_objects %d vs %d rows or definitions differ;", len(got.Applied), len(ref.s.Applied))
		}
		if got.History != ref.s.History {
			fmt.Fprintf(&b, " history %d vs %d;", got.History, ref.s.History)
		}
		b.WriteString("\n")
	}
	return b.String()
}
