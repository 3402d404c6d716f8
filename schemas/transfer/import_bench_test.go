package transfer_test

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// contactsCSV returns n contacts spread over companies "Company 0".."Company m-1", owned by
// alice or bob, with tags and a lifecycle stage: the shape of a CRM migration.
func contactsCSV(n, m int) []byte {
	var b bytes.Buffer
	b.WriteString("Full name,Email,Phone,Job title,Company,Owner,Lifecycle stage,Tags\n")
	for i := range n {
		owner := "alice@example.com"
		if i%2 == 1 {
			owner = "bob@example.com"
		}
		fmt.Fprintf(&b, "Person %d,person%d@example.com,+39 02 %07d,Buyer,Company %d,%s,lead,\"import, bench\"\n", i, i, i, i%m, owner)
	}
	return b.Bytes()
}

// BenchmarkImport100kContacts imports 100,000 contacts with a company lookup (1,000
// companies) through the same code as `relata import`, on a fresh app each time. Report:
// rows/s. Run: go test -run XXX -bench Import100k -benchtime 1x ./schemas/transfer
func BenchmarkImport100kContacts(b *testing.B) { benchImport(b, 100_000, 1000) }

// BenchmarkImport10kContacts is the same at a tenth of the size, for quick comparisons.
func BenchmarkImport10kContacts(b *testing.B) { benchImport(b, 10_000, 1000) }

// BenchmarkImport10kContactsSaved is the same import with --workflows, which saves each row
// (no workflow exists, so nothing runs): the per-row path the bulk path replaces, for a
// ratio in the same run. Run: go test -run XXX -bench 'Import10k' -benchtime 1x -count 3 ./schemas/transfer
func BenchmarkImport10kContactsSaved(b *testing.B) { benchImportOpts(b, 10_000, 1000, true) }

// BenchmarkImport10kContactsOneGoroutine is BenchmarkImport10kContacts with the writer off
// (each group written on the importer's goroutine, as RELATA_IMPORT_SERIAL=1): the pipeline's
// A/B in one run. Run: go test -run XXX -bench 'Import10kContacts($|One)' -benchtime 1x -count 3 ./schemas/transfer
func BenchmarkImport10kContactsOneGoroutine(b *testing.B) {
	defer transfer.SetSerialImport(true)()
	benchImport(b, 10_000, 1000)
}

func benchImport(b *testing.B, n, m int) { benchImportOpts(b, n, m, false) }

func benchImportOpts(b *testing.B, n, m int, workflows bool) {
	data := contactsCSV(n, m)
	var cpu float64 // of the imports only
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		for i := range m {
			schemastest.MustCreate(b, e.app, "companies", map[string]any{"name": fmt.Sprintf("Company %d", i)})
		}
		b.StartTimer()
		cpu0 := cpuSeconds()
		res, err := e.svc.Import(bytes.NewReader(data), transfer.ImportOptions{Object: "contacts", File: "bench.csv", Key: "email", Workflows: workflows})
		if err != nil || res.Created != n {
			b.Fatalf("%v %+v %v", err, countsOf(res), res.Errors[:min(3, len(res.Errors))])
		}
		cpu += cpuSeconds() - cpu0
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
}

// cpuSeconds is the CPU time (user + system) of the process so far: on the shared machine
// wall time mostly measures the other processes, CPU time much less.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
