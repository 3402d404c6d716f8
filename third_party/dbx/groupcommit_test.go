package dbx

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// openGroupDB opens a SQLite database in a temporary directory as PocketBase opens its writer
// (WAL, one connection), with group commit for up to max members.
func openGroupDB(t *testing.T, max int) *DB {
	t.Helper()
	db, err := Open("sqlite", filepath.Join(t.TempDir(), "data.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.DB().SetMaxOpenConns(1)
	for _, q := range []string{
		"CREATE TABLE parent (id INTEGER PRIMARY KEY)",
		"CREATE TABLE item (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
		"INSERT INTO parent (id) VALUES (1)",
	} {
		if _, err := db.NewQuery(q).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	db.EnableGroupCommit(max)
	return db
}

func insertItem(tx *Tx, id, parent int) error {
	_, err := tx.NewQuery("INSERT INTO item (id, parent) VALUES ({:id}, {:parent})").Bind(Params{"id": id, "parent": parent}).Execute()
	return err
}

func committedItems(t *testing.T, db *DB) map[int]bool {
	t.Helper()
	var ids []int
	if err := db.NewQuery("SELECT id FROM item").Column(&ids); err != nil {
		t.Fatal(err)
	}
	out := map[int]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

var errMember = errors.New("member failed")

// TestGroupCommit runs many concurrent Transactional calls, some of which fail in different
// ways, and checks what each call returned against what was committed.
func TestGroupCommit(t *testing.T) {
	tests := []struct {
		name string
		max  int
		// member is the function of call i; wantErr whether that call must fail.
		member  func(i int) func(*Tx) error
		wantErr func(i int) bool
	}{
		{
			name:    "all succeed",
			max:     32,
			member:  func(i int) func(*Tx) error { return func(tx *Tx) error { return insertItem(tx, i, 1) } },
			wantErr: func(int) bool { return false },
		},
		{
			name: "every third returns an error after its insert",
			max:  32,
			member: func(i int) func(*Tx) error {
				return func(tx *Tx) error {
					if err := insertItem(tx, i, 1); err != nil {
						return err
					}
					if i%3 == 0 {
						return errMember
					}
					return nil
				}
			},
			wantErr: func(i int) bool { return i%3 == 0 },
		},
		{
			name: "a failed statement inside a member",
			max:  8,
			member: func(i int) func(*Tx) error {
				return func(tx *Tx) error {
					if err := insertItem(tx, i, 1); err != nil {
						return err
					}
					if i%5 == 0 {
						return insertItem(tx, i, 1) // duplicate key
					}
					return nil
				}
			},
			wantErr: func(i int) bool { return i%5 == 0 },
		},
		{
			name:    "two members per group",
			max:     2,
			member:  func(i int) func(*Tx) error { return func(tx *Tx) error { return insertItem(tx, i, 1) } },
			wantErr: func(int) bool { return false },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openGroupDB(t, tt.max)
			const n = 300
			errs := runConcurrently(db, n, tt.member)
			got := committedItems(t, db)
			for i := 0; i < n; i++ {
				if tt.wantErr(i) {
					if errs[i] == nil {
						t.Errorf("call %d: no error, want one", i)
					}
					if got[i] {
						t.Errorf("call %d failed but its row was committed", i)
					}
					continue
				}
				if errs[i] != nil {
					t.Errorf("call %d: %v", i, errs[i])
				}
				if !got[i] {
					t.Errorf("call %d returned nil but its row is not committed", i)
				}
			}
			groups, members := db.GroupCommitStats()
			t.Logf("%d calls in %d groups", members, groups)
			if members != n {
				t.Errorf("members = %d, want %d", members, n)
			}
			if groups >= members {
				t.Errorf("%d groups for %d members: nothing was grouped", groups, members)
			}
			// A group whose first member fails is rolled back, not committed: it held only that member.
			failed := uint64(0)
			for i := 0; i < n; i++ {
				if tt.wantErr(i) {
					failed++
				}
			}
			if groups*uint64(tt.max) < members-failed {
				t.Errorf("%d groups for %d members exceed the limit of %d per group", groups, members, tt.max)
			}
		})
	}
}

// runConcurrently calls Transactional n times at once and returns each call's error. Each
// member sleeps a little in its transaction, so the others queue behind it.
func runConcurrently(db *DB, n int, member func(i int) func(*Tx) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			f := member(i)
			errs[i] = db.Transactional(func(tx *Tx) error {
				time.Sleep(100 * time.Microsecond)
				return f(tx)
			})
		}(i)
	}
	close(start)
	wg.Wait()
	return errs
}

// TestGroupCommitFailedCommit: a deferred foreign key is checked at the commit, so a member
// whose row violates it fails the whole group — and every member of that group must say so.
func TestGroupCommitFailedCommit(t *testing.T) {
	db := openGroupDB(t, 64)
	const n = 200
	const bad = 77
	errs := runConcurrently(db, n, func(i int) func(*Tx) error {
		return func(tx *Tx) error {
			parent := 1
			if i == bad {
				parent = 999 // no such parent: the commit of its group fails
			}
			return insertItem(tx, i, parent)
		}
	})
	got := committedItems(t, db)
	failed := 0
	for i := 0; i < n; i++ {
		if (errs[i] == nil) != got[i] {
			t.Errorf("call %d: returned %v, row committed %v", i, errs[i], got[i])
		}
		if errs[i] != nil {
			failed++
		}
	}
	if errs[bad] == nil {
		t.Errorf("the member with the broken foreign key returned nil")
	}
	if failed < 2 {
		t.Errorf("%d calls failed: the broken member's group partners should fail with it", failed)
	}
	t.Logf("%d of %d calls failed with the broken commit", failed, n)
	// The database goes on working.
	if err := db.Transactional(func(tx *Tx) error { return insertItem(tx, 10_000, 1) }); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitPanic: a member's panic reaches its caller, its changes are undone, and the
// others are committed.
func TestGroupCommitPanic(t *testing.T) {
	db := openGroupDB(t, 32)
	const n = 100
	const panicking = 40
	errs := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = db.Transactional(func(tx *Tx) error {
				time.Sleep(100 * time.Microsecond)
				if err := insertItem(tx, i, 1); err != nil {
					return err
				}
				if i == panicking {
					panic("boom")
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	got := committedItems(t, db)
	for i := 0; i < n; i++ {
		if i == panicking {
			if panics[i] != "boom" || got[i] {
				t.Errorf("panicking call: recovered %v, row committed %v", panics[i], got[i])
			}
			continue
		}
		if errs[i] != nil || panics[i] != nil || !got[i] {
			t.Errorf("call %d: error %v, panic %v, committed %v", i, errs[i], panics[i], got[i])
		}
	}
}

// TestGroupCommitLostTransaction: a member that ends the shared transaction itself (as SQLite
// does on some errors) takes the group's earlier members with it; they must report failure.
func TestGroupCommitLostTransaction(t *testing.T) {
	db := openGroupDB(t, 64)
	const n = 200
	const culprit = 150
	errs := runConcurrently(db, n, func(i int) func(*Tx) error {
		return func(tx *Tx) error {
			if err := insertItem(tx, i, 1); err != nil {
				return err
			}
			if i == culprit {
				if _, err := tx.NewQuery("ROLLBACK").Execute(); err != nil {
					return err
				}
				return errMember
			}
			return nil
		}
	})
	got := committedItems(t, db)
	for i := 0; i < n; i++ {
		if (errs[i] == nil) != got[i] {
			t.Errorf("call %d: returned %v, row committed %v", i, errs[i], got[i])
		}
	}
	if errs[culprit] == nil {
		t.Error("the culprit returned nil")
	}
	if err := db.Transactional(func(tx *Tx) error { return insertItem(tx, 10_000, 1) }); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitMemberCannotEnd: the group ends the transaction, not a member.
func TestGroupCommitMemberCannotEnd(t *testing.T) {
	db := openGroupDB(t, 32)
	err := db.Transactional(func(tx *Tx) error {
		if err := tx.Commit(); !errors.Is(err, ErrGroupMember) {
			return fmt.Errorf("Commit: %v, want ErrGroupMember", err)
		}
		if err := tx.Rollback(); !errors.Is(err, ErrGroupMember) {
			return fmt.Errorf("Rollback: %v, want ErrGroupMember", err)
		}
		return insertItem(tx, 1, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !committedItems(t, db)[1] {
		t.Fatal("row not committed")
	}
}

// TestGroupCommitOff: max < 2 restores plain transactions.
func TestGroupCommitOff(t *testing.T) {
	db := openGroupDB(t, 0)
	errs := runConcurrently(db, 50, func(i int) func(*Tx) error { return func(tx *Tx) error { return insertItem(tx, i, 1) } })
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if groups, members := db.GroupCommitStats(); groups != 0 || members != 0 {
		t.Errorf("stats %d/%d without group commit", groups, members)
	}
	if len(committedItems(t, db)) != 50 {
		t.Error("rows missing")
	}
}

// TestGroupCommitAlone: calls one after another each form a group of their own (the first
// member, without a savepoint); a failing one is rolled back whole and the next starts
// afresh.
func TestGroupCommitAlone(t *testing.T) {
	db := openGroupDB(t, 32)
	for i := 0; i < 20; i++ {
		err := db.Transactional(func(tx *Tx) error {
			if err := insertItem(tx, i, 1); err != nil {
				return err
			}
			if i%4 == 1 {
				return errMember
			}
			return nil
		})
		if (err != nil) != (i%4 == 1) {
			t.Errorf("call %d: %v", i, err)
		}
	}
	func() {
		defer func() { recover() }()
		_ = db.Transactional(func(tx *Tx) error {
			_ = insertItem(tx, 100, 1)
			panic("boom")
		})
	}()
	got := committedItems(t, db)
	for i := 0; i < 20; i++ {
		if got[i] == (i%4 == 1) {
			t.Errorf("call %d: committed %v", i, got[i])
		}
	}
	if got[100] {
		t.Error("the panicking call's row was committed")
	}
	if groups, members := db.GroupCommitStats(); groups != 15 || members != 21 {
		t.Errorf("%d groups committed of %d calls, want 15 of 21", groups, members)
	}
}

// TestGroupCommitGoexit: a function that calls runtime.Goexit (testing's FailNow) ends its
// goroutine inside the shared transaction. Its changes must not be committed with the group's,
// its call must not return, and every other call must return and say truly whether it was
// committed (no call left waiting for a group that never ends).
func TestGroupCommitGoexit(t *testing.T) {
	for _, first := range []bool{true, false} {
		t.Run(fmt.Sprint("first member ", first), func(t *testing.T) {
			exiting := 60
			db := openGroupDB(t, 32)
			const n = 200
			errs := make([]error, n)
			returned := make([]bool, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					if !first || i != exiting {
						<-start
					}
					errs[i] = db.Transactional(func(tx *Tx) error {
						time.Sleep(100 * time.Microsecond)
						if err := insertItem(tx, i, 1); err != nil {
							return err
						}
						if i == exiting {
							if first {
								close(start)
								time.Sleep(5 * time.Millisecond) // the others queue behind it
							}
							runtime.Goexit()
						}
						return nil
					})
					returned[i] = true
				}(i)
			}
			if !first {
				close(start) // 200 calls at once: the exiting one joins a group
			}
			wg.Wait()
			got := committedItems(t, db)
			if got[exiting] || returned[exiting] {
				t.Errorf("the exiting call: row committed %v, returned %v", got[exiting], returned[exiting])
			}
			for i := 0; i < n; i++ {
				if i == exiting {
					continue
				}
				if !returned[i] || (errs[i] == nil) != got[i] {
					t.Errorf("call %d: returned %v with %v, row committed %v", i, returned[i], errs[i], got[i])
				}
			}
			if err := db.Transactional(func(tx *Tx) error { return insertItem(tx, 10_000, 1) }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGroupCommitCancelledContext: a call whose DB's context is done when its turn comes is
// not run and returns the context's error — alone, or behind an open group that waited for it.
func TestGroupCommitCancelledContext(t *testing.T) {
	db := openGroupDB(t, 32)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cancelled := db.WithContext(ctx)
	const n = 100
	ran := make([]bool, n)
	var wg sync.WaitGroup
	errs, cErrs := make([]error, n), make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			cErrs[i] = cancelled.Transactional(func(tx *Tx) error {
				ran[i] = true
				return insertItem(tx, 1000+i, 1)
			})
		}(i)
		go func(i int) {
			defer wg.Done()
			errs[i] = db.Transactional(func(tx *Tx) error {
				time.Sleep(100 * time.Microsecond)
				return insertItem(tx, 2000+i, 1)
			})
		}(i)
	}
	wg.Wait()
	got := committedItems(t, db)
	for i := 0; i < n; i++ {
		if !errors.Is(cErrs[i], context.Canceled) || ran[i] || got[1000+i] {
			t.Errorf("cancelled call %d: error %v, ran %v, committed %v; want context.Canceled, not run", i, cErrs[i], ran[i], got[1000+i])
		}
		if errs[i] != nil || !got[2000+i] {
			t.Errorf("call %d: error %v, committed %v", i, errs[i], got[2000+i])
		}
	}
}
