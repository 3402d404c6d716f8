package stmtcache

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pocketbase/dbx"
)

// open returns a database of one connection (so every statement meets the same cache) with a
// table t of the values 1..5, and a function reading that connection's counters.
func open(t testing.TB) (*dbx.DB, func() (hits, misses uint64, kept int)) {
	t.Helper()
	db, err := Connect(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.DB().SetMaxOpenConns(1)
	if _, err := db.NewQuery("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)").Execute(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := db.Insert("t", dbx.Params{"v": i}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	stats := func() (hits, misses uint64, kept int) {
		c, err := db.DB().Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Raw(func(dc any) error {
			cc := dc.(*conn)
			cc.mu.Lock()
			defer cc.mu.Unlock()
			hits, misses, kept = cc.hits, cc.misses, len(cc.kept)
			return nil
		})
		return
	}
	return db, stats
}

func TestPragmasAsPocketBase(t *testing.T) {
	db, _ := open(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "10000",
		"synchronous": "1", "foreign_keys": "1", "temp_store": "2", "cache_size": "-32000",
		"journal_size_limit": "200000000"} {
		var got string
		if err := db.NewQuery("PRAGMA " + pragma).Row(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s (as core.DefaultDBConnect)", pragma, got, want)
		}
	}
	// Relata's own: fewer checkpoints (WALAutocheckpoint), on every connection, including one
	// the pool opens again after closing an idle one.
	var pages int
	if err := db.NewQuery("PRAGMA wal_autocheckpoint").Row(&pages); err != nil || pages != WALAutocheckpoint {
		t.Errorf("PRAGMA wal_autocheckpoint = %d (%v), want %d", pages, err, WALAutocheckpoint)
	}
	if walAutocheckpointText != strconv.Itoa(WALAutocheckpoint) {
		t.Errorf("walAutocheckpointText %q, want %d", walAutocheckpointText, WALAutocheckpoint)
	}
}

func TestStatementsAreReused(t *testing.T) {
	db, stats := open(t)
	h0, m0, _ := stats()
	for i := 1; i <= 5; i++ {
		var v int
		if err := db.NewQuery("SELECT v FROM t WHERE id = {:id}").Bind(dbx.Params{"id": i}).Row(&v); err != nil {
			t.Fatal(err)
		}
		if v != i {
			t.Fatalf("row %d: v = %d", i, v)
		}
	}
	h, m, _ := stats()
	if m-m0 != 1 || h-h0 != 4 {
		t.Fatalf("5 runs of one statement: %d prepared, %d reused; want 1 and 4", m-m0, h-h0)
	}
}

// The same text run again while its rows are still being read (inside a transaction, so on
// the same connection) gets a statement of its own: the kept one is busy.
func TestBusyStatementIsNotShared(t *testing.T) {
	db, _ := open(t)
	const q = "SELECT v FROM t WHERE v >= {:min} ORDER BY v"
	err := db.Transactional(func(tx *dbx.Tx) error {
		rows, err := tx.NewQuery(q).Bind(dbx.Params{"min": 1}).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return err
			}
			var inner []int
			if err := tx.NewQuery(q).Bind(dbx.Params{"min": 4}).Column(&inner); err != nil {
				return err
			}
			got = append(got, fmt.Sprint(v, inner))
		}
		if want := "[1 [4 5] 2 [4 5] 3 [4 5] 4 [4 5] 5 [4 5]]"; fmt.Sprint(got) != want {
			t.Errorf("outer and inner reads: %v, want %v", got, want)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A kept statement sees a schema change: SQLite prepares it again by itself.
func TestSchemaChangeSeen(t *testing.T) {
	db, stats := open(t)
	read := func() []string {
		rows, err := db.NewQuery("SELECT * FROM t WHERE id = 1").Rows()
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		return cols
	}
	if got := read(); len(got) != 2 {
		t.Fatalf("columns before: %v", got)
	}
	if _, err := db.NewQuery("ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'x'").Execute(); err != nil {
		t.Fatal(err)
	}
	h0, _, _ := stats()
	if got := read(); len(got) != 3 || got[2] != "w" {
		t.Fatalf("columns after ADD COLUMN: %v", got)
	}
	if h, _, _ := stats(); h != h0+1 {
		t.Fatalf("the kept statement was not reused (hits %d → %d)", h0, h)
	}
}

// Failed statements leave the kept one usable; text that does not parse is not kept.
func TestErrors(t *testing.T) {
	db, stats := open(t)
	ins := func(v int) error {
		_, err := db.NewQuery("INSERT INTO t (v) VALUES ({:v})").Bind(dbx.Params{"v": v}).Execute()
		return err
	}
	if err := ins(3); err == nil {
		t.Fatal("a duplicate v was inserted")
	}
	if err := ins(6); err != nil {
		t.Fatalf("the insert after a failed one: %v", err)
	}
	_, _, k0 := stats()
	if _, err := db.NewQuery("SELEC v FROM t").Execute(); err == nil {
		t.Fatal("bad SQL ran")
	}
	if _, _, k := stats(); k != k0 {
		t.Fatalf("a statement that does not parse was kept (%d → %d)", k0, k)
	}
	var n int
	if err := db.NewQuery("SELECT count(*) FROM t").Row(&n); err != nil || n != 6 {
		t.Fatalf("count = %d, %v; want 6", n, err)
	}
}

// A connection keeps at most Size statements and drops the least recently used.
func TestEviction(t *testing.T) {
	db, stats := open(t)
	hot := "SELECT v FROM t WHERE id = 1"
	for i := 0; i < Size+50; i++ {
		var v int
		if err := db.NewQuery(hot).Row(&v); err != nil || v != 1 {
			t.Fatalf("hot read: %d, %v", v, err)
		}
		var got int
		if err := db.NewQuery(fmt.Sprintf("SELECT %d + v FROM t WHERE id = 1", i)).Row(&got); err != nil || got != i+1 {
			t.Fatalf("read %d: %d, %v", i, got, err)
		}
	}
	_, _, kept := stats()
	if kept > Size {
		t.Fatalf("%d statements kept, at most %d", kept, Size)
	}
	h0, m0, _ := stats()
	var v int
	if err := db.NewQuery(hot).Row(&v); err != nil {
		t.Fatal(err)
	}
	if err := db.NewQuery("SELECT 0 + v FROM t WHERE id = 1").Row(&v); err != nil {
		t.Fatal(err)
	}
	if h, m, _ := stats(); h != h0+1 || m != m0+1 {
		t.Fatalf("recently used kept and oldest dropped: hits +%d misses +%d, want +1 +1", h-h0, m-m0)
	}
}

// A statement whose text never repeats (PocketBase's create-rule check, with a random CTE
// name) is prepared, run and closed, never kept: it would push useful statements out.
func TestOneOffNotKept(t *testing.T) {
	db, stats := open(t)
	_, _, before := stats()
	for i := 0; i < 3; i++ {
		var v int
		q := fmt.Sprintf("WITH t__pb_create__r%d AS (SELECT {:v} AS v) SELECT v FROM t__pb_create__r%d", i, i)
		if err := db.NewQuery(q).Bind(dbx.Params{"v": i}).Row(&v); err != nil || v != i {
			t.Fatalf("one-off %d: %d, %v", i, v, err)
		}
	}
	if _, _, kept := stats(); kept != before {
		t.Fatalf("%d statements kept after three one-off texts, want %d", kept, before)
	}
}

// BenchmarkInsertAndRead compares an insert and a read by id with and without the cache.
func BenchmarkInsertAndRead(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(string) (*dbx.DB, error)
	}{
		{"modernc", func(p string) (*dbx.DB, error) { return dbx.Open("sqlite", p+pragmas) }},
		{"cached", Connect},
	} {
		b.Run(c.name, func(b *testing.B) {
			db, err := c.open(filepath.Join(b.TempDir(), "data.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.NewQuery("CREATE TABLE c (id TEXT PRIMARY KEY, name TEXT, email TEXT, owner TEXT, created TEXT, updated TEXT)").Execute(); err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprint("r", i)
				if _, err := db.Insert("c", dbx.Params{"id": id, "name": "Ada", "email": "ada@example.com",
					"owner": "u1", "created": "2026-12-03", "updated": "2026-12-03"}).Execute(); err != nil {
					b.Fatal(err)
				}
				var name string
				if err := db.Select("name").From("c").Where(dbx.HashExp{"id": id}).Row(&name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
