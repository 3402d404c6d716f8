package audit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
)

// BenchmarkAppend appends one entry per transaction, as the audit hook does for each
// create, without the record's own write: the append's cost (reading the head, hashing,
// inserting) and its transaction's commit. The chain is verified after the loop.
// Reproduce:
//
//	go test -run '^$' -bench Append -benchtime 5000x -count 3 ./schemas/audit/
func BenchmarkAppend(b *testing.B) {
	app := schemastest.OpenApp(b, b.TempDir())
	actor := audit.Actor{Kind: audit.KindUser, ID: "usr1234567890ab", Via: "api"}
	changes := map[string]audit.Change{"full_name": {New: "Ada Lovelace"}, "email": {New: "ada@example.com"},
		"lifecycle_stage": {New: "lead"}, "owner": {New: "usr1234567890ab"}, "company": {New: "com1234567890ab"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		err := app.RunInTransaction(func(tx core.App) error {
			_, err := audit.Append(tx, time.Now(), actor, "contacts", fmt.Sprintf("con%012d", i), audit.ActionCreate, changes)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	r, err := audit.Verify(app)
	if err != nil || !r.OK() || r.Entries != int64(i) {
		b.Fatalf("after %d appends: %+v, %v", i, r, err)
	}
}
