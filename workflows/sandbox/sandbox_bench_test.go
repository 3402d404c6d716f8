package sandbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relata/relata/workflows/sandbox"
)

// BenchmarkRun measures one run of a small script that computes and sets two fields: a fresh
// runtime with the sandbox's built-ins and API, the cached compiled program, the conversions.
func BenchmarkRun(b *testing.B) {
	const src = `
		const total = record.amount * (1 + record.vat / 100);
		set('total', Math.round(total * 100) / 100);
		set('label', record.name + ' (' + record.stage + ')');
	`
	sb := sandbox.New()
	in := sandbox.Input{
		Record: map[string]any{"amount": 1200.5, "vat": 20, "name": "Acme renewal", "stage": "won"},
		Now:    time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sb.Run(ctx, src, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile measures what the program cache saves: parsing, checking, rewriting and
// compiling a script the size of BenchmarkRun's.
func BenchmarkCompile(b *testing.B) {
	sb := sandbox.New()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++ // a new source each time, so that the cache misses
		src := fmt.Sprintf(`const total = record.amount * (1 + record.vat / 100); set('total', Math.round(total * %d) / 100); set('label', record.name + ' (' + record.stage + ')');`, i)
		if err := sb.Compile(src); err != nil {
			b.Fatal(err)
		}
	}
}
