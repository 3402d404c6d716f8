package audit

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// JournalTable is the journal of changes not yet chained into the trail: a plain SQLite
// table (migration 1764003800), not a collection, so no API reaches it.
const JournalTable = "_relata_audit_journal"

// The chainer's pace: a batch is chained ChainDelay after the first change that journaled,
// or at once when ChainBatch changes are pending. The delay bounds how long an entry waits
// unchained on a running server (the window in which it is not yet tamper-evident); readers
// never wait for it, they [Flush].
const (
	ChainDelay = 100 * time.Millisecond
	ChainBatch = 500
)

// chainBatchText is ChainBatch as SQL text.
const chainBatchText = "500"

const sqlJournal = `INSERT INTO _relata_audit_journal (at, actor_kind, actor_id, via, object, record, action, changes, salt)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Journal records a change of record in the journal, in tx — the transaction that saves the
// change, so both commit or neither does (outside a transaction it opens its own). The
// entry gets its id, sequence number and hashes when the chainer moves it into the trail,
// shortly after the commit; [Find], [Verify] and every other reader chain what is pending
// first, so they see it at once. Its salt is chosen here and journaled with the changes, so
// the digest the chainer computes is the same however often it chains the row.
//
// Journal is what the record hooks call on every create, update and delete: one insert into
// a table with no index but its rowid, instead of reading the trail's head and writing an
// entry into a table with four indexes. The journal's rowid order is the commit order: rowid
// is one more than the largest present, and SQLite lets one transaction write at a time (a
// write transaction holds the database's write lock from its first write until it commits
// or rolls back), so every row a transaction inserts gets a rowid above those of every
// transaction that committed before it, and below those of every later one. The chainer and
// the direct appends ([Append], [AppendMany], [Erase]) chain the journal in rowid order
// before they write, so the trail's order is the order in which the changes committed.
func Journal(tx core.App, at time.Time, actor Actor, object, record, action string, changes map[string]Change) error {
	if changes == nil {
		changes = map[string]Change{}
	}
	b, err := encodeChanges(changes)
	if err != nil {
		return fmt.Errorf("audit: encode the changes of %s %s: %w", object, record, err)
	}
	return tx.RunInTransaction(func(tx core.App) error {
		q, err := statementsOf(tx)
		if err != nil {
			return err
		}
		defer q.close()
		if err := q.exec(sqlJournal, at.UTC().Format(timeFormat), actor.Kind, actor.ID, actor.Via, object, record, action, string(b), newSalt()); err != nil {
			return fmt.Errorf("audit: journal the %s of %s %s: %w", action, object, record, err)
		}
		if info := tx.TxInfo(); info != nil && q.pool != nil {
			if c, ok := chainers.Load(q.pool); ok {
				info.OnComplete(func(txErr error) error {
					if txErr == nil {
						c.(*chainer).poke()
					}
					return nil
				})
			}
		}
		return nil
	})
}

// Flush chains every entry pending in the journal into the trail, synchronously. Every
// reader of the trail calls it first (Find, Verify and the packages that read relata_audit
// with SQL, privacy's export and erasure). In a transaction it chains in that transaction.
// With nothing pending it costs one read. Inside a transaction, pass the transaction: with
// the app, Flush would wait for the write lock its own transaction holds.
func Flush(app core.App) error {
	var pending bool
	if err := app.DB().NewQuery(`SELECT EXISTS (SELECT 1 FROM ` + JournalTable + `)`).Row(&pending); err != nil {
		return fmt.Errorf("audit: read the journal: %w", err)
	}
	if !pending {
		return nil
	}
	return app.RunInTransaction(func(tx core.App) error {
		_, err := chainPending(tx)
		return err
	})
}

// Pending returns the number of journaled entries not yet chained and the time of the
// oldest change among them (zero when none), for /metrics and `relata doctor`.
func Pending(app core.App) (n int, oldest time.Time, err error) {
	var row struct {
		N      int            `db:"n"`
		Oldest sql.NullString `db:"oldest"`
	}
	if err := app.DB().NewQuery(`SELECT count(*) AS n, min(at) AS oldest FROM ` + JournalTable).One(&row); err != nil {
		return 0, time.Time{}, fmt.Errorf("audit: read the journal: %w", err)
	}
	if row.Oldest.Valid {
		oldest, _ = time.Parse(timeFormat, row.Oldest.String)
	}
	return row.N, oldest, nil
}

// chainPending moves every journaled entry into the trail, in batches of ChainBatch, in tx.
func chainPending(tx core.App) (int, error) {
	total := 0
	for {
		n, err := chainBatch(tx)
		total += n
		if err != nil || n < ChainBatch {
			return total, err
		}
	}
}

var entryColumns = []string{"id", "seq", "at", "actor_kind", "actor_id", "via", "object", "record", "action", "changes", "changes_hash", "salt", "erased", "prev_hash", "hash"}

// chainBatch moves up to ChainBatch journaled entries, oldest first, into the trail in tx: it
// reads the trail's head in the transaction (no cache that could go stale), computes each
// entry's sequence number, id and hashes (the changes digest with the salt journaled with the
// changes; rows journaled before salts have none and get the unsalted digest), inserts them in chunks ([insertEntries]) and
// deletes the moved rows.
func chainBatch(tx core.App) (int, error) {
	ex, err := executor(tx)
	if err != nil {
		return 0, err
	}
	rows, err := ex.Query(sqlReadJournal)
	if err != nil {
		return 0, fmt.Errorf("audit: read the journal: %w", err)
	}
	var entries []*Entry
	var last int64
	for rows.Next() {
		e := &Entry{}
		if err := rows.Scan(&last, &e.At, &e.ActorKind, &e.ActorID, &e.Via, &e.Object, &e.Record, &e.Action, &e.ChangesJSON, &e.Salt); err != nil {
			rows.Close()
			return 0, fmt.Errorf("audit: read the journal: %w", err)
		}
		entries = append(entries, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("audit: read the journal: %w", err)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	seq, prev, err := head(tx)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		seq++
		e.Seq, e.ID, e.PrevHash, e.ChangesHash = seq, entryID(seq), prev, changesDigest(e.Salt, e.ChangesJSON)
		e.Hash = chainHash(e)
		prev = e.Hash
	}
	if err := insertEntries(tx, entries); err != nil {
		return 0, fmt.Errorf("audit: chain %d journaled entries: %w", len(entries), err)
	}
	if _, err := ex.Exec(sqlClearJournal, last); err != nil {
		return 0, fmt.Errorf("audit: clear the journal: %w", err)
	}
	return len(entries), nil
}

const (
	sqlReadJournal  = `SELECT id, at, actor_kind, actor_id, via, object, record, action, changes, salt FROM ` + JournalTable + ` ORDER BY id LIMIT ` + chainBatchText // in the text: SQLite prepares a statement with a bound LIMIT again on every run
	sqlClearJournal = `DELETE FROM ` + JournalTable + ` WHERE id <= ?`
)

// head returns the sequence number and hash of the trail's last entry (0, "" when empty).
func head(tx core.App) (int64, string, error) {
	var last struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	err := tx.DB().NewQuery(sqlHead).One(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, "", fmt.Errorf("audit: read the last entry: %w", err)
	}
	return last.Seq, last.Hash, nil
}

// chainers are the running chainers by database pool of writes (what a transaction knows of
// its app).
var chainers sync.Map

// chainer moves the journal into the trail in the background.
type chainer struct {
	app     core.App
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	pending atomic.Int64 // commits that journaled since the last batch
}

// StartChainer starts app's chainer, once per app: it chains what a previous run left in the
// journal (a crash after a commit, before chaining) as soon as the app is bootstrapped, then
// each batch of changes that journaled, and everything pending when the app terminates.
// [Register] and the record hooks start it.
func StartChainer(app core.App) {
	start := func(app core.App) {
		db, ok := app.NonconcurrentDB().(*dbx.DB)
		if !ok || db.DB() == nil {
			return
		}
		pool := db.DB()
		c := &chainer{app: app, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
		if _, loaded := chainers.LoadOrStore(pool, c); loaded {
			return
		}
		go c.run()
		c.poke() // leftovers of an earlier run
		app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{Id: "relata.audit.chainer", Func: func(e *core.TerminateEvent) error {
			if chainers.CompareAndDelete(pool, c) {
				close(c.stop)
				<-c.done
				// A command may have closed the databases already (`backup restore` and
				// `replicate restore` swap the data directory): what is pending then is
				// chained at the next start.
				if !c.app.IsBootstrapped() {
					return e.Next()
				}
				if err := Flush(c.app); err != nil {
					c.app.Logger().Error("audit: chain the journal on stop", slog.String("error", err.Error()))
				}
			}
			return e.Next()
		}})
	}
	if app.IsBootstrapped() {
		start(app)
		return
	}
	app.OnBootstrap().Bind(&hook.Handler[*core.BootstrapEvent]{Id: "relata.audit.chainer", Func: func(e *core.BootstrapEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		start(e.App)
		return nil
	}})
}

// poke tells the chainer a commit journaled.
func (c *chainer) poke() {
	c.pending.Add(1)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *chainer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		// Wait ChainDelay for more commits to join the batch, or until a batch is full.
		timer := time.NewTimer(ChainDelay)
	gather:
		for c.pending.Load() < ChainBatch {
			select {
			case <-c.stop:
				timer.Stop()
				return
			case <-timer.C:
				break gather
			case <-c.wake:
			}
		}
		timer.Stop()
		c.pending.Store(0)
		// One transaction per batch: the write lock is held for one batch at a time.
		for c.app.IsBootstrapped() { // not once a command has closed the databases
			n, err := c.batch()
			if err != nil {
				c.app.Logger().Error("audit: chain the journal", slog.String("error", err.Error()))
				break
			}
			if n < ChainBatch {
				break
			}
		}
	}
}

// batch chains one batch in its own transaction. The databases may be closed under it by a
// command that swaps the data directory (between the check in run and this call): that
// shows as an error, or as a panic of PocketBase's closed app, returned as an error — the
// entries stay in the journal and are chained at the next start.
func (c *chainer) batch() (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the databases were closed: %v", r)
		}
	}()
	err = c.app.RunInTransaction(func(tx core.App) error {
		var err error
		n, err = chainBatch(tx)
		return err
	})
	return n, err
}
