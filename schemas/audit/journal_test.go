package audit_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
)

// waitChained waits for the background chainer to empty the journal, without reading the
// trail (which would chain it itself).
func waitChained(t *testing.T, app core.App) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, _, err := audit.Pending(app)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still in the journal after 20 s: the chainer did not chain them", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJournalChainsEveryChange journals many changes — record saves through the hooks, one
// per transaction and many per transaction — and expects the chainer to move every one into
// one unbroken chain, in order, without a reader asking.
func TestJournalChainsEveryChange(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name       string
		changes    int
		perCommit  int // saves per transaction
		needsLong  bool
		byTheHooks bool // saved records (else audit.Journal directly)
	}{
		{"1,001 saves, one per transaction", 1001, 1, false, true},
		{"1,001 saves in transactions of 250", 1001, 250, false, true},
		{"10,000 journaled changes in transactions of 100", 10000, 100, true, false},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			if sc.needsLong && testing.Short() {
				t.Skip("10,000 changes: not in -short")
			}
			app, _ := newApp(t)
			base := mustVerify(t, app).Entries
			for done := 0; done < sc.changes; {
				err := app.RunInTransaction(func(tx core.App) error {
					for i := 0; i < sc.perCommit && done+i < sc.changes; i++ {
						name := fmt.Sprintf("Company %05d", done+i)
						if sc.byTheHooks {
							coll, err := tx.FindCachedCollectionByNameOrId("companies")
							if err != nil {
								return err
							}
							r := core.NewRecord(coll)
							r.Set("name", name)
							if err := tx.Save(r); err != nil {
								return err
							}
							continue
						}
						if err := audit.Journal(tx, time.Now(), audit.Actor{Kind: audit.KindSystem, Via: "test"}, "companies",
							fmt.Sprintf("cmp%012d", done+i), audit.ActionCreate, map[string]audit.Change{"name": {New: name}}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				done += sc.perCommit
			}
			waitChained(t, app)
			r := mustVerify(t, app)
			want := base + int64(sc.changes)
			if !r.OK() || r.Entries != want || r.HeadSeq != want {
				t.Fatalf("report: %d entries, head %d, problems %v; want %d entries, intact", r.Entries, r.HeadSeq, r.Problems, want)
			}
			// In commit order: the names were written in order, so they come out in order.
			var names []string
			if err := app.DB().NewQuery(`SELECT json_extract(changes, '$.name.new') FROM relata_audit WHERE object = 'companies' ORDER BY seq`).Column(&names); err != nil {
				t.Fatal(err)
			}
			for i, n := range names {
				if n != fmt.Sprintf("Company %05d", i) {
					t.Fatalf("entry %d of the companies names %q; want Company %05d", i+1, n, i)
				}
			}
		})
	}
}

// TestJournalKeepsCommitOrder saves from 8 goroutines at once; each save numbers itself
// inside its transaction, after its write, while it holds SQLite's write lock — that number
// is its commit order. The trail must list the changes in that order, and hold no entry of
// a transaction that rolled back.
func TestJournalKeepsCommitOrder(t *testing.T) {
	t.Parallel()
	app, _ := newApp(t)
	base := mustVerify(t, app).Entries
	const workers, each = 8, 40
	var order, committed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	rollback := errors.New("rolled back on purpose")
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				keep := i%5 != 4
				err := app.RunInTransaction(func(tx core.App) error {
					coll, err := tx.FindCachedCollectionByNameOrId("companies")
					if err != nil {
						return err
					}
					r := core.NewRecord(coll)
					r.Set("name", fmt.Sprintf("w%d-%d", w, i))
					if err := tx.Save(r); err != nil {
						return err
					}
					if !keep {
						return rollback
					}
					n := order.Add(1) // under the write lock: the commit order
					r.Set("country", strconv.FormatInt(n, 10))
					return tx.Save(r)
				})
				switch {
				case keep && err != nil:
					errs <- err
				case !keep && !errors.Is(err, rollback):
					errs <- fmt.Errorf("rolled back save: %v", err)
				case keep:
					committed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r := mustVerify(t, app)
	if want := base + 2*committed.Load(); !r.OK() || r.Entries != want {
		t.Fatalf("report: %d entries, problems %v; want %d (a create and an update per commit), intact", r.Entries, r.Problems, want)
	}
	var numbers []string
	if err := app.DB().NewQuery(`SELECT json_extract(changes, '$.country.new') FROM relata_audit
		WHERE object = 'companies' AND action = 'update' ORDER BY seq`).Column(&numbers); err != nil {
		t.Fatal(err)
	}
	for i, n := range numbers {
		if n != strconv.Itoa(i+1) {
			t.Fatalf("update entry %d was committed as number %s; want %d: the trail is not in commit order", i+1, n, i+1)
		}
	}
	var gone int
	if err := app.DB().NewQuery(`SELECT count(*) FROM relata_audit WHERE json_extract(changes, '$.name.new') LIKE 'w%-4'
		OR json_extract(changes, '$.name.new') LIKE 'w%-9' OR json_extract(changes, '$.name.new') LIKE 'w%-_4'
		OR json_extract(changes, '$.name.new') LIKE 'w%-_9'`).Row(&gone); err != nil {
		t.Fatal(err)
	}
	if gone != 0 {
		t.Fatalf("%d entries of rolled-back saves in the trail", gone)
	}
}

// TestReadersSeePendingEntries reads right after a save, before the chainer's delay: Find
// and the history must already hold the change, and Append and Erase chain what is pending
// before their own entry.
func TestReadersSeePendingEntries(t *testing.T) {
	t.Parallel()
	app, _ := newApp(t)
	rec := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Fresh Co"})
	got, err := audit.Find(app, audit.Query{Object: "companies", Record: rec.Id})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Action != audit.ActionCreate || got[0].Changes["name"].New != "Fresh Co" {
		t.Fatalf("Find right after the save: %+v; want its create entry", got)
	}

	// A change journaled, not chained, then a direct append in another transaction: the
	// journaled change committed first, so it comes first.
	err = app.RunInTransaction(func(tx core.App) error {
		return audit.Journal(tx, time.Now(), audit.Actor{Kind: audit.KindSystem}, "companies", rec.Id, audit.ActionUpdate,
			map[string]audit.Change{"name": {Old: "Fresh Co", New: "Pending Co"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := audit.Append(app, time.Now(), audit.Actor{Kind: audit.KindSystem}, "companies", rec.Id, audit.ActionUpdate,
		map[string]audit.Change{"name": {Old: "Pending Co", New: "Direct Co"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err = audit.Find(app, audit.Query{Object: "companies", Record: rec.Id})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != direct.ID || got[1].Changes["name"].New != "Pending Co" || got[1].Seq != direct.Seq-1 {
		t.Fatalf("after a journaled and a direct change: %d entries, newest %+v", len(got), got)
	}

	// Erase while a change of the person is pending: its entry is chained before the erasure.
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	var erasure *audit.Entry
	err = app.RunInTransaction(func(tx core.App) error {
		if err := audit.Journal(tx, time.Now(), audit.Actor{Kind: audit.KindSystem}, "companies", rec.Id, audit.ActionDelete,
			map[string]audit.Change{"name": {Old: "Direct Co"}}); err != nil {
			return err
		}
		var err error
		erasure, err = audit.Erase(tx, time.Now(), audit.Actor{Kind: audit.KindSystem, Via: "privacy"}, "companies", rec.Id, ids)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := mustVerify(t, app)
	if !r.OK() || r.HeadSeq != erasure.Seq {
		t.Fatalf("after an erasure with a change pending: %+v; want intact with the erasure last", r)
	}
	got, _ = audit.Find(app, audit.Query{Object: "companies", Record: rec.Id})
	if len(got) != 5 || got[1].Action != audit.ActionDelete || got[1].Erased {
		t.Fatalf("after the erasure: %+v; want the pending delete chained just before it, not erased", got)
	}
	for _, e := range got[2:] {
		if !e.Erased || !strings.Contains(e.ChangesJSON, audit.ErasedMarker) {
			t.Fatalf("entry %d not erased: %+v", e.Seq, e)
		}
	}
}

// TestJournalLeftoversAreChainedOnStart leaves changes in the journal as a crash after their
// commit would (an app that never chained them), then starts the app again: the chainer
// chains them without any reader asking. An app that terminates chains what is pending.
func TestJournalLeftoversAreChainedOnStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	journal := func(app core.App, from, n int) {
		t.Helper()
		err := app.RunInTransaction(func(tx core.App) error {
			for i := from; i < from+n; i++ {
				if err := audit.Journal(tx, time.Now(), audit.Actor{Kind: audit.KindSystem}, "companies", fmt.Sprintf("cmp%012d", i),
					audit.ActionCreate, map[string]audit.Change{"name": {New: fmt.Sprintf("Company %d", i)}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The crashed run: no chainer, so the journal keeps what it committed.
	crashed := core.NewBaseApp(core.BaseAppConfig{DataDir: dir})
	if err := crashed.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := crashed.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	journal(crashed, 0, 1200)
	if n, oldest, err := audit.Pending(crashed); err != nil || n != 1200 || time.Since(oldest) > time.Minute {
		t.Fatalf("pending before the restart: %d, oldest %v, %v; want 1200, just now", n, oldest, err)
	}
	if err := crashed.ResetBootstrapState(); err != nil {
		t.Fatal(err)
	}

	app := schemastest.OpenApp(t, dir)
	audit.StartChainer(app)
	waitChained(t, app)
	if r := mustVerify(t, app); !r.OK() || r.Entries != 1200 {
		t.Fatalf("after the restart: %+v; want 1200 entries, intact", r)
	}

	// A clean stop chains what is pending, even before the chainer's delay.
	journal(app, 1200, 7)
	if err := app.OnTerminate().Trigger(&core.TerminateEvent{App: app}, func(e *core.TerminateEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n, _, err := audit.Pending(app); err != nil || n != 0 {
		t.Fatalf("pending after the stop: %d, %v; want 0", n, err)
	}
	var count int
	if err := app.DB().NewQuery(`SELECT count(*) FROM relata_audit`).Row(&count); err != nil || count != 1207 {
		t.Fatalf("entries after the stop: %d, %v; want 1207", count, err)
	}
}

// TestJournalAfterDatabasesClosed: a command that closes the databases itself before the app
// terminates (`backup restore` swaps the data directory) stops the chainer without chaining
// and without a panic; what was pending is chained at the next start.
func TestJournalAfterDatabasesClosed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	audit.StartChainer(app)
	if err := audit.Journal(app, time.Now(), audit.Actor{Kind: audit.KindSystem}, "companies", "cmp000000000001",
		audit.ActionCreate, map[string]audit.Change{"name": {New: "Acme"}}); err != nil {
		t.Fatal(err)
	}
	if err := app.ResetBootstrapState(); err != nil { // before the chainer's delay has passed
		t.Fatal(err)
	}
	time.Sleep(2 * audit.ChainDelay) // the chainer wakes with the databases closed
	if err := app.OnTerminate().Trigger(&core.TerminateEvent{App: app}, func(e *core.TerminateEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}

	next := schemastest.OpenApp(t, dir)
	audit.StartChainer(next)
	waitChained(t, next)
	if r := mustVerify(t, next); !r.OK() || r.Entries != 1 {
		t.Fatalf("after the next start: %+v; want 1 entry, intact", r)
	}
}
