package transfer_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// An import job's summary names the created records that may duplicate records that were
// there before, among those the importer may view only.
func TestImportJobReportsDuplicates(t *testing.T) {
	e := newEnv(t)
	ada := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada Lovelace", "email": "ada@x.example", "owner": e.alice.Id})
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Grace Hopper", "email": "grace@y.example", "owner": e.carol.Id})
	file := "Full name,Email\nAda Lovelace,ada+import@x.example\nGrace Hopper,grace+import@y.example\nAlan Turing,alan@z.example\n"
	status, body := e.postImport(t, "/api/relata/import/contacts/start", e.aliceTok, "dups.csv", file, nil)
	if status != 200 {
		t.Fatalf("start: %d %s", status, body)
	}
	var started struct{ Batch string }
	_ = json.Unmarshal(body, &started)
	var v struct {
		Status           string
		Created          int
		Duplicates       int
		DuplicateSamples []transfer.ImportDuplicate
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, raw := e.get(t, "/api/relata/import-jobs/"+started.Batch, e.aliceTok)
		_ = json.Unmarshal(raw, &v)
		if v.Status != "running" || time.Now().After(deadline) {
			break
		}
	}
	if v.Status != "done" || v.Created != 3 {
		t.Fatalf("job %+v", v)
	}
	newAda := e.one(t, "contacts", "email", "ada+import@x.example")
	if v.Duplicates != 1 || len(v.DuplicateSamples) != 1 || v.DuplicateSamples[0].ID != newAda.Id || v.DuplicateSamples[0].Existing != ada.Id || v.DuplicateSamples[0].Score < 0.5 {
		t.Fatalf("duplicates %d %+v; want the new Ada with alice's Ada (carol's Grace is not alice's to see)", v.Duplicates, v.DuplicateSamples)
	}
}
