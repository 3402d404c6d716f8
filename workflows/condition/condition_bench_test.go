package condition_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/relata/relata/workflows/condition"
)

// typical is the condition the performance goal is stated for (< 2 µs per evaluation).
const typical = `record.stage == "won" && record.amount > 10000`

// BenchmarkEval evaluates compiled conditions on a deal, as the engine does for each event.
func BenchmarkEval(b *testing.B) {
	deals := defaultObject(b, "deals")
	in := dealInput()
	benchmarks := []struct {
		name string
		src  string
	}{
		{name: "typical", src: typical},
		{name: "changed", src: `changedTo("stage", "won") && old.amount == record.amount && user.role == "sales"`},
		{name: "date", src: `daysUntil(record.expected_close) < 14 && daysSince(record.created) > 30`},
		{name: "list", src: `"p2" in record.contacts && len(record.contacts) > 1`},
		{name: "whole record", src: `len(toJSON(record)) > 0`},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			p, err := condition.Compile(deals, bm.src)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				ok, err := p.Eval(in)
				if err != nil || !ok {
					b.Fatalf("Eval(%q) = %v, %v; want true, nil", bm.src, ok, err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	deals := defaultObject(b, "deals")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := condition.Compile(deals, typical); err != nil {
			b.Fatal(err)
		}
	}
}

func dealInput() condition.Input {
	return condition.Input{
		Record: map[string]any{
			"id": "d1", "name": "Acme renewal", "stage": "won", "amount": 25000.0, "amount_currency": "EUR",
			"expected_close": "2026-11-30 00:00:00.000Z", "owner": "u1", "source": "referral",
			"company": "c1", "contacts": []string{"p1", "p2"}, "created": "2026-10-01 09:00:00.000Z",
		},
		Old: map[string]any{
			"id": "d1", "name": "Acme renewal", "stage": "negotiation", "amount": 25000.0, "amount_currency": "EUR",
		},
		Changed: []string{"stage", "updated"},
		User:    condition.User{ID: "u1", Email: "ana@example.com", Name: "Ana", Role: "sales", Team: "north"},
		Now:     time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Event:   "update",
	}
}

// BenchmarkWorstAccepted measures the dearest expressions the budget accepts, on a record
// with the largest text and lists: the cost a condition can add to a save (goal < 5 ms).
func BenchmarkWorstAccepted(b *testing.B) {
	obj := kitchen()
	in := bigInput()
	for i, src := range worstAccepted {
		p, err := condition.Compile(obj, src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%02d", i), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Eval(in); err != nil {
					b.Fatalf("Eval(%q): %v", src, err)
				}
			}
		})
	}
}
