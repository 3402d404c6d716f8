package transfer_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// TestUndoInChunksResumes: an import of 2,500 new contacts and one update is undone in
// transactions of 1,000 records. A delete that fails in the second chunk stops the undo: the
// first chunk stays undone, the batch records how far it got, and undoing it again continues
// there, restores the updated contact, and marks the batch undone.
func TestUndoInChunksResumes(t *testing.T) {
	defer transfer.SetUndoChunk(1000)()
	e := newEnv(t)
	pre := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Pre", "email": "pre@example.com", "job_title": "Before"})
	var b strings.Builder
	b.WriteString("Full name,Email,Job title\nPre,pre@example.com,After\n") // the oldest change: the last record undone
	for i := 1; i <= 2500; i++ {
		fmt.Fprintf(&b, "Person %d,g%d@example.com,Clerk\n", i, i)
	}
	res := e.importBytes(t, "g.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts", Key: "email", BatchSize: 5000})
	if got := countsOf(res); got != (counts{created: 2500, updated: 1}) {
		t.Fatalf("%+v; errors %v", got, res.Errors)
	}
	// Newest first: the first chunk is g2500…g1501, the second g1500…g501.
	failing := e.one(t, "contacts", "email", "g1200@example.com").Id
	e.app.OnRecordDelete("contacts").Bind(&hook.Handler[*core.RecordEvent]{Id: "test.fail", Func: func(ev *core.RecordEvent) error {
		if ev.Record.Id == failing {
			return errors.New("the disk is full")
		}
		return ev.Next()
	}})
	_, err := e.svc.Undo(res.Batch, nil)
	if err == nil || !strings.Contains(err.Error(), "undo stopped after 1000 of the batch's 2501 records") || !strings.Contains(err.Error(), "the disk is full") {
		t.Fatalf("Undo = %v; want it stopped after the first chunk, with the cause", err)
	}
	if n := e.count(t, "contacts"); n != 1501 {
		t.Fatalf("%d contacts after the stopped undo; want 1,501 (the first chunk's 1,000 removed, the second rolled back)", n)
	}
	batch, err := e.app.FindRecordById(transfer.BatchesCollection, res.Batch)
	if err != nil {
		t.Fatal(err)
	}
	if batch.GetInt("undo_done") != 1000 || batch.GetString("status") == "undone" {
		t.Fatalf("batch undo_done %d, status %q; want 1000 and not undone", batch.GetInt("undo_done"), batch.GetString("status"))
	}

	e.app.OnRecordDelete("contacts").Unbind("test.fail")
	u, err := e.svc.Undo(res.Batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Resumed != 1000 || u.Removed != 1500 || u.Restored != 1 || len(u.Skipped) != 0 {
		t.Fatalf("the second undo: %+v; want 1,000 resumed, 1,500 removed, 1 restored, none skipped", u)
	}
	if n := e.count(t, "contacts"); n != 1 {
		t.Fatalf("%d contacts after undo; want only the one there before", n)
	}
	e.expectRecord(t, "contacts", "email", "pre@example.com", map[string]string{"id": pre.Id, "job_title": "Before"})
	batch, _ = e.app.FindRecordById(transfer.BatchesCollection, res.Batch)
	if batch.GetInt("undo_done") != 2501 || batch.GetString("status") != "undone" || batch.GetDateTime("undone_at").IsZero() {
		t.Fatalf("batch undo_done %d, status %q, undone_at %v; want 2501, undone, set", batch.GetInt("undo_done"), batch.GetString("status"), batch.GetDateTime("undone_at"))
	}
	if _, err := e.svc.Undo(res.Batch, nil); err == nil || !strings.Contains(err.Error(), "already undone") {
		t.Fatalf("a third undo: %v; want already undone", err)
	}
}
