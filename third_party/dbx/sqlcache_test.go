package dbx

import (
	"fmt"
	"sync"
	"testing"
)

// The cached processSQL gives what dbx's own gives, for every driver's quoting and
// placeholder style, the first time and from the cache.
func TestProcessSQLCachedSameAsUncached(t *testing.T) {
	texts := []string{
		"SELECT * FROM {{users}} WHERE [[id]] = {:id}",
		"SELECT * FROM {{users}} WHERE [[users.id]] = {:id} AND [[name]] = {:name} OR [[name]] = {:id}",
		"UPDATE {{workflow_runs}} SET [[status]]={:status} WHERE [[id]] IN ({:p0}, {:p1})",
		"INSERT INTO {{a.b}} ([[x]], [[y z]]) VALUES ({:p0_0}, {:p0_1}), ({:p1_0}, {:p1_1})",
		"SELECT 1",
		"SELECT '{:notaparam' || [[col",
		"",
	}
	for _, driver := range []string{"sqlite", "mysql", "postgres", "mssql", "oci8", "unknown"} {
		db := &DB{driverName: driver}
		db.Builder = db.newBuilder(nil)
		for _, s := range texts {
			wantSQL, wantNames := db.processSQLRegexp(s)
			for n := 0; n < 3; n++ {
				gotSQL, gotNames := db.processSQL(s)
				if gotSQL != wantSQL || !equalNames(gotNames, wantNames) {
					t.Fatalf("%s %q: got %q %v, want %q %v", driver, s, gotSQL, gotNames, wantSQL, wantNames)
				}
			}
		}
	}
	// Two drivers, same text: each keeps its own quoting.
	my, pg := &DB{driverName: "mysql"}, &DB{driverName: "postgres"}
	my.Builder, pg.Builder = my.newBuilder(nil), pg.newBuilder(nil)
	a, _ := my.processSQL("SELECT [[x]] FROM {{t}} WHERE [[x]]={:v}")
	b, _ := pg.processSQL("SELECT [[x]] FROM {{t}} WHERE [[x]]={:v}")
	if a != "SELECT `x` FROM `t` WHERE `x`=?" || b != `SELECT "x" FROM "t" WHERE "x"=$1` {
		t.Fatalf("mysql %q, postgres %q", a, b)
	}
}

// The cache stays bounded: texts that differ at every call empty it, long texts are not kept,
// and results stay right throughout.
func TestProcessSQLCacheBounded(t *testing.T) {
	db := &DB{driverName: "sqlite"}
	db.Builder = db.newBuilder(nil)
	for i := 0; i < 3*sqlCacheMax; i++ {
		s := fmt.Sprintf("SELECT [[c%d]] FROM {{t}} WHERE [[id]] = {:id%d}", i, i)
		got, names := db.processSQL(s)
		if want := fmt.Sprintf("SELECT `c%d` FROM `t` WHERE `id` = ?", i); got != want || len(names) != 1 || names[0] != fmt.Sprintf("id%d", i) {
			t.Fatalf("%d: %q %v", i, got, names)
		}
		sqlCache.mu.RLock()
		n := len(sqlCache.m)
		sqlCache.mu.RUnlock()
		if n > sqlCacheMax {
			t.Fatalf("cache holds %d texts, more than %d", n, sqlCacheMax)
		}
	}
	long := "SELECT [[a]] FROM {{t}} WHERE [[a]] = {:a}" + string(make([]byte, sqlCacheMaxLen))
	db.processSQL(long)
	if _, ok := sqlCache.get(sqlKey{"sqlite", long}); ok {
		t.Fatal("a text longer than sqlCacheMaxLen was kept")
	}
}

// Many goroutines processing the same and different texts at once (run with -race).
func TestProcessSQLConcurrent(t *testing.T) {
	db := &DB{driverName: "sqlite"}
	db.Builder = db.newBuilder(nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				s := fmt.Sprintf("SELECT [[x]] FROM {{t%d}} WHERE [[y]] = {:v}", (i+g)%50)
				got, names := db.processSQL(s)
				if want := fmt.Sprintf("SELECT `x` FROM `t%d` WHERE `y` = ?", (i+g)%50); got != want || len(names) != 1 || names[0] != "v" {
					t.Errorf("%q %v", got, names)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func BenchmarkProcessSQL(b *testing.B) {
	db := &DB{driverName: "sqlite"}
	db.Builder = db.newBuilder(nil)
	s := "SELECT [[id]], [[status]] FROM {{workflow_runs}} WHERE [[status]] = {:status} AND [[next_at]] <= {:now} ORDER BY [[next_at]] LIMIT 32"
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			db.processSQLRegexp(s)
		}
	})
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			db.processSQLUncached(s)
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			db.processSQL(s)
		}
	})
}

func equalNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The scan gives what dbx's regular expressions give, for any text and every driver.
func FuzzProcessSQL(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM {{users}} WHERE [[id]] = {:id}",
		"{{{a}}} [[[b]]] {:{:x}} {:} {{}} [[]] {: x} {{a b.c-d}} [[a]]] {{a}",
		"WITH {{_abc}} AS (SELECT {:p1} AS [[x]], {:p2} AS [[y.z]]) SELECT [[x]] FROM {{_abc}}",
		"{:a}{:b}{:c}", "[[", "{", "{:", "{{", "x{:9_}y",
	} {
		f.Add(s)
	}
	dbs := []*DB{}
	for _, driver := range []string{"sqlite", "mysql", "postgres", "mssql", "oci8"} {
		db := &DB{driverName: driver}
		db.Builder = db.newBuilder(nil)
		dbs = append(dbs, db)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, db := range dbs {
			wantSQL, wantNames := db.processSQLRegexp(s)
			gotSQL, gotNames := db.processSQLUncached(s)
			if gotSQL != wantSQL || !equalNames(gotNames, wantNames) {
				t.Fatalf("%s %q: scan %q %v, regexp %q %v", db.driverName, s, gotSQL, gotNames, wantSQL, wantNames)
			}
		}
	})
}
