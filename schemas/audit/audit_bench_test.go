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
			writeInParallel(b, app, 0, func(tx core.App, i int64) error {
				record := fmt.Sprintf("con%012d", i)
				if way == "journal" {
					return audit.Journal(tx, time.Now(), actor, "contacts", record, audit.ActionCreate, changes)
				}
				_, err := audit.Append(tx, time.Now(), actor, "contacts", record, audit.ActionCreate, changes)
				return err
			})
		})
	}
}

// writeInParallel runs b.N transactions from 4 goroutines per CPU, each calling write with its
// number (from 1), chains what is pending (the chainer's last batch inside the timer),
// reports the process's CPU per entry and checks the trail verifies with preexisting + b.N
// entries.
func writeInParallel(b *testing.B, app core.App, preexisting int64, write func(tx core.App, i int64) error) {
	b.Helper()
	var n atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if err := app.RunInTransaction(func(tx core.App) error { return write(tx, i) }); err != nil {
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
	if err != nil || !r.OK() || r.Entries != n.Load()+preexisting {
		b.Fatalf("after %d entries: %+v, %v", n.Load(), r, err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// trailSizes are the trails the served benchmarks start from: a new database, and one whose
// trail already holds 200,000 entries (an import of 100,000 contacts and some use) — where
// the trail's indexes no longer fit a few pages and where each entry lands in them matters.
var trailSizes = []int{0, 200_000}

// grow appends n entries to app's trail the way an import does (batches of 500, random
// record ids as PocketBase makes them).
func grow(b *testing.B, app core.App, n int) {
	b.Helper()
	actor := audit.Actor{Kind: audit.KindImport, ID: "imp1234567890ab", Via: "import"}
	items := make([]audit.Item, 0, 500)
	for i := range n {
		items = append(items, audit.Item{Object: "contacts", Record: core.GenerateDefaultRandomId(), Action: audit.ActionCreate,
			Changes: map[string]audit.Change{"full_name": {New: "Ada Lovelace"}, "email": {New: fmt.Sprintf("ada%d@example.com", i)},
				"lifecycle_stage": {New: "lead"}, "owner": {New: "usr1234567890ab"}, "company": {New: "com1234567890ab"}}})
		if len(items) == cap(items) || i == n-1 {
			if err := app.RunInTransaction(func(tx core.App) error { return audit.AppendMany(tx, time.Now(), actor, items) }); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
}

// BenchmarkAuditWriteServed is BenchmarkAuditWrite's "journal" way on the database as
// `relata serve` opens it (the statement cache, schemastest.OpenServedApp), on a new trail and
// on a trail of 200,000 entries: what a REST create pays for its entry, journal and chainer,
// per entry. Record ids are random, as PocketBase makes them.
// Reproduce:
//
//	go test -run '^$' -bench AuditWriteServed -benchtime 4000x -count 5 ./schemas/audit/
func BenchmarkAuditWriteServed(b *testing.B) {
	actor := audit.Actor{Kind: audit.KindUser, ID: "usr1234567890ab", Via: "api"}
	changes := map[string]audit.Change{"full_name": {New: "Ada Lovelace"}, "email": {New: "ada@example.com"},
		"lifecycle_stage": {New: "lead"}, "owner": {New: "usr1234567890ab"}, "company": {New: "com1234567890ab"}}
	for _, size := range trailSizes {
		b.Run(fmt.Sprintf("trail=%d", size), func(b *testing.B) {
			app := schemastest.OpenServedApp(b, b.TempDir())
			grow(b, app, size)
			audit.StartChainer(app)
			writeInParallel(b, app, int64(size), func(tx core.App, _ int64) error {
				return audit.Journal(tx, time.Now(), actor, "contacts", core.GenerateDefaultRandomId(), audit.ActionCreate, changes)
			})
		})
	}
}

// BenchmarkAppendMany appends the entries of an import: batches of 500 items per
// transaction (an import's chunk), on the database as `relata serve` opens it, on a new trail
// and on a trail of 200,000 entries. One op is one entry; cpu-µs/op is the process's CPU per
// entry.
// Reproduce:
//
//	go test -run '^$' -bench AppendMany -benchtime 4000x -count 5 ./schemas/audit/
func BenchmarkAppendMany(b *testing.B) {
	for _, size := range trailSizes {
		b.Run(fmt.Sprintf("trail=%d", size), func(b *testing.B) {
			app := schemastest.OpenServedApp(b, b.TempDir())
			grow(b, app, size)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			grow(b, app, b.N)
			b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
			b.StopTimer()
			r, err := audit.Verify(app)
			if err != nil || !r.OK() || r.Entries != int64(b.N+size) {
				b.Fatalf("after %d entries: %+v, %v", b.N, r, err)
			}
		})
	}
}
