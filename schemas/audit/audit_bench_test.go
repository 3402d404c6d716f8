package audit_test

import (
	"fmt"
	"sync/atomic"
	"syscall"
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

// BenchmarkAuditWrite writes one entry per transaction, from 8 goroutines, the two ways:
// "append" chains each entry in its transaction (what the record hooks did before the
// journal), "journal" writes it into the journal while the chainer runs, the final chaining
// (Flush) inside the timer. cpu-µs/op is the process's CPU per entry, chainer included.
// Reproduce:
//
//	go test -run '^$' -bench AuditWrite -benchtime 4000x -count 5 ./schemas/audit/
func BenchmarkAuditWrite(b *testing.B) {
	actor := audit.Actor{Kind: audit.KindUser, ID: "usr1234567890ab", Via: "api"}
	changes := map[string]audit.Change{"full_name": {New: "Ada Lovelace"}, "email": {New: "ada@example.com"},
		"lifecycle_stage": {New: "lead"}, "owner": {New: "usr1234567890ab"}, "company": {New: "com1234567890ab"}}
	for _, way := range []string{"append", "journal"} {
		b.Run(way, func(b *testing.B) {
			app := schemastest.OpenApp(b, b.TempDir())
			audit.StartChainer(app)
			var n atomic.Int64
			b.SetParallelism(4)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					err := app.RunInTransaction(func(tx core.App) error {
						record := fmt.Sprintf("con%012d", i)
						if way == "journal" {
							return audit.Journal(tx, time.Now(), actor, "contacts", record, audit.ActionCreate, changes)
						}
						_, err := audit.Append(tx, time.Now(), actor, "contacts", record, audit.ActionCreate, changes)
						return err
					})
					if err != nil {
						b.Error(err)
					}
				}
			})
			if err := audit.Flush(app); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
			b.StopTimer()
			r, err := audit.Verify(app)
			if err != nil || !r.OK() || r.Entries != n.Load() {
				b.Fatalf("after %d entries: %+v, %v", n.Load(), r, err)
			}
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
