package dbx

import (
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrGroupMember is returned by Commit and Rollback of a transaction that Transactional runs
// as a member of a group commit: the group ends it, not the member.
var ErrGroupMember = errors.New("dbx: a member of a group commit cannot commit or roll back itself")

// EnableGroupCommit makes Transactional on db run its functions in shared transactions, one
// function at a time, each after the first inside a savepoint, and commit once for a group of
// up to max functions (a Relata addition; see PATCH.md). It is meant for a DB limited to one
// open connection, such as a SQLite writer, where transactions queue for the connection anyway:
// the functions that queued while one ran are added to its transaction, and the last of them
// commits for all.
//
// Each Transactional call still returns only when its changes are committed, and returns the
// commit's error if the commit fails; a function that fails (or panics, or calls
// runtime.Goexit) has its own changes rolled back to its savepoint and returns at once,
// without affecting the others, and a call whose DB's context is done is not run. A function
// must not wait for another Transactional call on db to return: the two may share a commit.
// Begin, BeginTx and TransactionalContext are unchanged. It may be called at any time: calls
// already in Transactional finish as they began. max < 2 turns group commit off.
func (db *DB) EnableGroupCommit(max int) {
	if max < 2 {
		db.group.Store(nil)
		return
	}
	db.group.Store(&groupCommit{max: max})
}

// GroupCommitStats reports the groups committed and the functions they held since
// EnableGroupCommit (zero without group commit).
func (db *DB) GroupCommitStats() (groups, members uint64) {
	g := db.group.Load()
	if g == nil {
		return 0, 0
	}
	return g.groups.Load(), g.members.Load()
}

// groupCommit is the shared transaction of a DB with group commit.
type groupCommit struct {
	max int

	// waiting counts the calls blocked on mu: while any waits, a finishing member leaves the
	// transaction open for it.
	waiting atomic.Int32
	// mu is held by the member running in the open transaction.
	mu sync.Mutex
	// tx is the open transaction, nil between groups; n counts its members and group is
	// what they wait for.
	tx    *sql.Tx
	n     int
	group *openGroup

	groups, members atomic.Uint64
}

// openGroup is closed when its transaction ends; err is then the commit's error.
type openGroup struct {
	done chan struct{}
	err  error
}

// errFirstMemberFailed ends a group whose only member failed.
var errFirstMemberFailed = errors.New("dbx: group commit: the group's only member failed")

const (
	savepoint        = "SAVEPOINT dbx_group_member"
	releaseSavepoint = "RELEASE dbx_group_member"
	rollbackToMember = "ROLLBACK TO dbx_group_member"
)

func (g *groupCommit) transactional(db *DB, f func(*Tx) error) (err error) {
	g.waiting.Add(1)
	g.mu.Lock()
	g.waiting.Add(-1)
	locked := true
	// running is set while f runs: if f ends the goroutine (runtime.Goexit, such as testing's
	// FailNow), the deferred function undoes f's changes as for a failure, so that they are
	// not committed with the group's, and releases the group's other members.
	running, first := false, false
	defer func() {
		if running {
			g.finishMember(false, first, errGoexit)
		}
		if locked {
			g.mu.Unlock()
		}
	}()

	if db.ctx != nil {
		if err := db.ctx.Err(); err != nil {
			// Not run. A group left open for this call is committed if no other call waits.
			if g.tx != nil && g.waiting.Load() == 0 {
				g.end(nil)
			}
			return err
		}
	}
	if g.tx == nil {
		var tx *sql.Tx
		if db.ctx != nil {
			tx, err = db.sqlDB.BeginTx(db.ctx, nil)
		} else {
			tx, err = db.sqlDB.Begin()
		}
		if err != nil {
			return err
		}
		g.tx, g.n, g.group = tx, 0, &openGroup{done: make(chan struct{})}
	}
	tx, group := g.tx, g.group
	// The first member runs without a savepoint: if it fails, the transaction holds nothing
	// else and is rolled back whole. (In a savepoint SQLite copies every page the member
	// changes to a sub-journal, which a long transaction alone — an import — need not pay.)
	first = g.n == 0
	if !first {
		if _, err := tx.Exec(savepoint); err != nil {
			g.end(fmt.Errorf("dbx: group commit: %s: %w", savepoint, err))
			return err
		}
	}

	running = true
	fErr, panicked, p := runMember(db, tx, f)
	running = false
	var endErr error
	fErr, endErr = g.finishMember(panicked, first, fErr)
	locked = false
	g.mu.Unlock()

	if panicked {
		panic(p)
	}
	if fErr != nil {
		if endErr != nil && endErr != errFirstMemberFailed && endErr != fErr {
			return Errors{fErr, endErr}
		}
		return fErr
	}
	<-group.done
	return group.err
}

// errGoexit is the error of a member whose function ended its goroutine.
var errGoexit = errors.New("dbx: group commit: the function called runtime.Goexit in the transaction")

// finishMember ends the part of the open transaction of a member whose function returned
// fErr (or panicked), and ends the group when that member failed it, or when no call waits
// to join it or it is full. It returns the member's error and the error that ended the group
// without a commit, if any. g.mu is held.
func (g *groupCommit) finishMember(panicked, first bool, fErr error) (error, error) {
	failed := fErr != nil || panicked
	endErr := g.finish(failed, first, fErr)
	if !failed && endErr != nil {
		fErr = endErr // the savepoint could not be released
	}
	switch {
	case endErr != nil:
		g.end(endErr)
	case g.waiting.Load() == 0 || g.n >= g.max:
		g.end(nil)
	}
	return fErr, endErr
}

// finish undoes a failed member's changes (back to its savepoint, or the whole transaction
// for the first member), or releases a succeeded member's savepoint, and counts the member. It
// returns the error that must end the group without a commit, if any. g.mu is held.
func (g *groupCommit) finish(failed, first bool, fErr error) (endErr error) {
	tx := g.tx
	g.n++
	g.members.Add(1)
	switch {
	case failed && first:
		return errFirstMemberFailed // nobody else is in the transaction
	case failed:
		if _, err := tx.Exec(rollbackToMember); err != nil {
			// SQLite ended the whole transaction (it does so on some errors, such as a full
			// disk): the other members' changes are gone too.
			return fmt.Errorf("dbx: group commit: the transaction ended after a member failed (%v): %w", fErr, err)
		}
		if _, err := tx.Exec(releaseSavepoint); err != nil {
			return fmt.Errorf("dbx: group commit: %s: %w", releaseSavepoint, err)
		}
	case !first:
		if _, err := tx.Exec(releaseSavepoint); err != nil {
			return fmt.Errorf("dbx: group commit: %s: %w", releaseSavepoint, err)
		}
	}
	return nil
}

// runMember runs f on tx as a member Tx, recovering a panic.
func runMember(db *DB, tx *sql.Tx, f func(*Tx) error) (err error, panicked bool, p interface{}) {
	defer func() {
		if r := recover(); r != nil {
			panicked, p = true, r
		}
	}()
	return f(&Tx{Builder: db.newBuilder(tx), tx: tx, member: true}), false, nil
}

// end commits the open transaction, or rolls it back when cause is not nil, and releases its
// members with the result. g.mu is held.
func (g *groupCommit) end(cause error) {
	tx, group := g.tx, g.group
	g.tx, g.group, g.n = nil, nil, 0
	if cause != nil {
		_ = tx.Rollback()
		group.err = cause
	} else {
		group.err = tx.Commit()
		g.groups.Add(1)
	}
	close(group.done)
}
