package transfer

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas/schemastest"
)

// TestClaimUndoChunk: a chunk of an undo commits only from the progress it started at, so
// two undos of one batch at once cannot both go through the same records; the last chunk
// marks the batch undone, after which no chunk is claimed.
func TestClaimUndoChunk(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	coll, err := app.FindCollectionByNameOrId(BatchesCollection)
	if err != nil {
		t.Fatal(err)
	}
	batch := core.NewRecord(coll)
	batch.Set("object", "contacts")
	batch.Set("status", "done")
	if err := app.Save(batch); err != nil {
		t.Fatal(err)
	}
	claim := func(start, end int, last bool) error {
		return app.RunInTransaction(func(tx core.App) error { return claimUndoChunk(tx, batch.Id, start, end, last) })
	}
	if err := claim(0, 1000, false); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	// A second undo that read the batch before the first chunk committed starts from 0.
	if err := claim(0, 1000, false); err == nil || !strings.Contains(err.Error(), "being undone by another request") {
		t.Fatalf("a chunk from stale progress: %v; want it refused", err)
	}
	if err := claim(1000, 1500, true); err != nil {
		t.Fatalf("last chunk: %v", err)
	}
	got, err := app.FindRecordById(BatchesCollection, batch.Id)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetInt("undo_done") != 1500 || got.GetString("status") != "undone" || got.GetDateTime("undone_at").IsZero() {
		t.Fatalf("undo_done %d, status %q, undone_at %v; want 1500, undone, set", got.GetInt("undo_done"), got.GetString("status"), got.GetDateTime("undone_at"))
	}
	if err := claim(1500, 1500, true); err == nil {
		t.Fatal("a chunk of an undone batch was claimed")
	}
}
