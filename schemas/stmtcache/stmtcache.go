// Package stmtcache keeps SQLite's prepared statements for reuse on each database connection.
//
// PocketBase's query builder (dbx) sends every statement as text, and the modernc SQLite
// driver parses and plans it anew each time: under Relata's write load (a REST create, a
// workflow run, an email delivered) parsing was about 15 % of the server's CPU, for the same
// few hundred statement texts over and over. Connect opens the database like PocketBase's
// core.DefaultDBConnect, through a thin driver that prepares each distinct text once per
// connection and reuses the statement (SQLite re-plans a kept statement by itself when the
// schema changes).
//
// A kept statement is handed to one user at a time: a statement still in use (rows being
// read while the same text runs again on the connection) is prepared anew for the second
// user, as without the cache. Each connection keeps at most Size statements and closes the
// least recently used idle one to make room.
package stmtcache

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"

	"github.com/pocketbase/dbx"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// DriverName is the database/sql driver Connect opens: modernc's SQLite behind the cache.
const DriverName = "relata_sqlite"

// Size is how many prepared statements a connection keeps.
const Size = 256

// pragmas are those of PocketBase's core.DefaultDBConnect (v0.39.11), in its order (the
// busy timeout must come before WAL mode), then the WAL's auto-checkpoint (WALAutocheckpoint).
const pragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)" +
	"&_pragma=wal_autocheckpoint(" + walAutocheckpointText + ")"

// WALAutocheckpoint is how many pages the WAL holds before the connection that commits copies
// them into the database file (SQLite's default is 1,000). That checkpoint runs inside the
// commit, while group commit's writer lock is held, and with synchronous=NORMAL it syncs the
// WAL and the database file: under the end-to-end load the two fsyncs took 10 % of the time
// the writer lock was held (a checkpoint every ~33 commits; trace in BENCHMARKS.md, "Fewer
// checkpoints"). At 10,000 pages a checkpoint comes ten times less often and copies the pages
// that many commits rewrote once; the WAL grows to about 40 MB (4 KiB pages) between
// checkpoints, and journal_size_limit keeps the file under 200 MB as before.
const WALAutocheckpoint = 10000

const walAutocheckpointText = "10000"

func init() {
	// The driver modernc registered as "sqlite" (with the functions and hooks registered on
	// it), not a fresh one; sql.Open connects nothing.
	db, err := sql.Open("sqlite", "")
	if err != nil {
		panic(err)
	}
	sql.Register(DriverName, &cachingDriver{base: db.Driver()})
	dbx.BuilderFuncMap[DriverName] = dbx.NewSqliteBuilder
}

// Connect opens the SQLite database at dbPath as PocketBase does, with the statement cache
// (a core.DBConnectFunc).
func Connect(dbPath string) (*dbx.DB, error) {
	return dbx.Open(DriverName, dbPath+pragmas)
}

type cachingDriver struct{ base driver.Driver }

func (d *cachingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{base: c, kept: map[string]*entry{}, rules: map[string]*entry{}}, nil
}

// conn wraps a driver connection. It implements neither ExecerContext nor QueryerContext, so
// database/sql prepares every statement through PrepareContext (where the cache answers) and
// closes it after use (which returns it to the cache).
type conn struct {
	base driver.Conn
	mu   sync.Mutex
	kept map[string]*entry
	// rules keeps PocketBase's create-rule checks by their normalised text (createRuleText),
	// apart from kept: at most RuleSize, so that texts which still never repeat (a rule whose
	// SQL holds other random parts) cannot push the ordinary statements out.
	rules map[string]*entry
	tick  uint64
	// Hits and Misses count the statements taken from the cache and prepared (tests).
	hits, misses uint64
	// ruleHits counts the create-rule checks taken from rules (tests).
	ruleHits uint64
}

type entry struct {
	st   driver.Stmt
	busy bool
	used uint64
}

var (
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.mu.Lock()
	c.tick++
	if e, ok := c.kept[query]; ok && !e.busy {
		e.busy, e.used = true, c.tick
		c.hits++
		c.mu.Unlock()
		return &stmt{Stmt: e.st, c: c, e: e}, nil
	}
	_, inUse := c.kept[query]
	c.misses++
	c.mu.Unlock()
	if oneOff(query) {
		if text, perm, ok := createRuleText(query); ok {
			return c.prepareCreateRule(ctx, text, perm)
		}
		return c.base.(driver.ConnPrepareContext).PrepareContext(ctx, query) // closed after use
	}
	st, err := c.base.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if inUse {
		return &stmt{Stmt: st}, nil // the kept one is busy: this one is closed after use
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.kept) >= Size && !c.evict() {
		return &stmt{Stmt: st}, nil
	}
	e := &entry{st: st, busy: true, used: c.tick}
	c.kept[query] = e
	return &stmt{Stmt: st, c: c, e: e}, nil
}

// oneOff reports whether query is a text that never repeats, which keeping would only push
// useful statements out (and cost an eviction each time): PocketBase checks a create rule
// with a query whose CTE has a random name (`WITH contacts__pb_create__Ab3xYz as (SELECT ? AS
// email, …)`) and lists the fields in map order — one such text per REST create.
func oneOff(query string) bool { return strings.Contains(query, "__pb_create__") }

// evict closes the least recently used idle statement; it reports whether there was one.
func (c *conn) evict() bool { return evictFrom(c.kept) }

// evictFrom closes and removes the least recently used idle statement of kept.
func evictFrom(kept map[string]*entry) bool {
	var oldest string
	var at uint64
	found := false
	for q, e := range kept {
		if !e.busy && (!found || e.used < at) {
			oldest, at, found = q, e.used, true
		}
	}
	if found {
		kept[oldest].st.Close()
		delete(kept, oldest)
	}
	return found
}

func (c *conn) Close() error {
	c.mu.Lock()
	for q, e := range c.kept {
		e.st.Close()
		delete(c.kept, q)
	}
	for q, e := range c.rules {
		e.st.Close()
		delete(c.rules, q)
	}
	c.mu.Unlock()
	return c.base.Close()
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.base.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.base.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.base.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.base.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// Unwrap returns the driver's own connection (for sql.Conn.Raw users that need it).
func (c *conn) Unwrap() driver.Conn { return c.base }

// stmt is a statement handed out by conn: closing a kept one returns it to the cache.
type stmt struct {
	driver.Stmt
	c *conn
	e *entry
	// perm, for a normalised create-rule check, maps the i-th argument of the statement as
	// prepared to the argument PocketBase sent at position perm[i] (see createRuleText).
	perm []int
}

func (s *stmt) Close() error {
	if s.e == nil {
		return s.Stmt.Close()
	}
	s.c.mu.Lock()
	s.e.busy = false
	s.c.mu.Unlock()
	return nil
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	args, err := s.args(args)
	if err != nil {
		return nil, err
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	args, err := s.args(args)
	if err != nil {
		return nil, err
	}
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// args puts the arguments of a normalised create-rule check in the order of its text.
func (s *stmt) args(args []driver.NamedValue) ([]driver.NamedValue, error) {
	if s.perm == nil {
		return args, nil
	}
	if len(args) < len(s.perm) {
		return nil, fmt.Errorf("stmtcache: create-rule check with %d arguments for %d columns", len(args), len(s.perm))
	}
	out := make([]driver.NamedValue, len(args))
	copy(out, args)
	for i, from := range s.perm {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: args[from].Value}
	}
	return out, nil
}
