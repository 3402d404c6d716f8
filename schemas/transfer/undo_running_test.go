package transfer_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas/transfer"
)

// TestUndoRefusedWhileImportRuns: an undo asked for while the import is still committing its
// chunks is refused, so it cannot leave the later chunks' rows behind; once the import has
// finished, the undo removes every row. A batch left "running" by an import whose process
// died can be undone once its lease has run out.
func TestUndoRefusedWhileImportRuns(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name,Email\n")
	for i := 1; i <= 2501; i++ {
		fmt.Fprintf(&b, "Person %d,r%d@example.com\n", i, i)
	}
	var undoErr error
	calls := 0
	opts := transfer.ImportOptions{Object: "contacts", Key: "email", BatchSize: 1000}
	opts.Progress = func(res *transfer.Result, rows int) {
		calls++
		if calls == 1 { // the first 1,000 rows are committed, 1,501 are still to come
			_, undoErr = e.svc.Undo(res.Batch, nil)
		}
	}
	res := e.importBytes(t, "r.csv", []byte(b.String()), opts)
	if res.Created != 2501 || calls != 3 {
		t.Fatalf("created %d in %d chunks; want 2,501 in 3", res.Created, calls)
	}
	if undoErr == nil || !strings.Contains(undoErr.Error(), "is still running") || !strings.Contains(undoErr.Error(), "once it has finished") {
		t.Fatalf("Undo during the import = %v; want it refused as still running", undoErr)
	}
	if n := e.count(t, "contacts"); n != 2501 {
		t.Fatalf("%d contacts after the refused undo; want 2,501", n)
	}
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Removed != 2501 || e.count(t, "contacts") != 0 {
		t.Fatalf("undo after the import: %+v, %d contacts left; want 2,501 removed, none left", u, e.count(t, "contacts"))
	}
}

// TestUndoOfAnAbandonedImport: a batch still marked running whose last chunk is older than
// ImportLease (its process died) is undone; a recent one is refused with the time from which
// it can be.
func TestUndoOfAnAbandonedImport(t *testing.T) {
	e := newEnv(t)
	res := e.importBytes(t, "a.csv", []byte("Full name,Email\nAnn,ann@example.com\nBob,bob@example.com\n"), transfer.ImportOptions{Object: "contacts", Key: "email"})
	for _, c := range []struct {
		ago    time.Duration
		refuse bool
	}{
		{time.Minute, true},
		{transfer.ImportLease - time.Minute, true},
		{transfer.ImportLease + time.Minute, false},
	} {
		last := types.NowDateTime().Add(-c.ago)
		if _, err := e.app.DB().Update(transfer.BatchesCollection, dbx.Params{"status": "running", "updated": last.String()},
			dbx.HashExp{"id": res.Batch}).Execute(); err != nil {
			t.Fatal(err)
		}
		u, err := e.svc.Undo(res.Batch, nil)
		if c.refuse {
			want := last.Add(transfer.ImportLease).Time().UTC().Format(time.RFC3339)
			if err == nil || !strings.Contains(err.Error(), "still running") || !strings.Contains(err.Error(), "undone from "+want) {
				t.Fatalf("last chunk %v ago: Undo = %+v, %v; want refused until %s", c.ago, u, err, want)
			}
			continue
		}
		if err != nil || u.Removed != 2 {
			t.Fatalf("last chunk %v ago: Undo = %+v, %v; want both contacts removed", c.ago, u, err)
		}
	}
}
