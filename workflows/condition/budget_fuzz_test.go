package condition_test

import (
	"errors"
	"testing"

	"github.com/relata/relata/workflows/condition"
)

// FuzzBudget compiles arbitrary expressions and evaluates those that compile on the largest
// record: the charging the compiler inserts must never break type checking, panic, or let an
// evaluation go over its budget without ErrBudget.
func FuzzBudget(f *testing.F) {
	for _, src := range worstAccepted {
		f.Add(src)
	}
	for _, src := range []string{
		`len(reduce(1..5000, #acc + "xxxxxxxxxx", "")) < 0`,
		`all(1..1000, all(1..1000, # > 0))`,
		`record.notes matches "a+b"`,
		`len(toJSON(record)) > 0`,
		`"x" in record.tags && record.title + record.notes != ""`,
		`let s = record.title; s + s == s`,
	} {
		f.Add(src)
	}
	obj := kitchen()
	in := bigInput()
	f.Fuzz(func(t *testing.T, src string) {
		p, err := condition.Compile(obj, src)
		if err != nil {
			var ce *condition.Error
			if !errors.As(err, &ce) && err.Error() == "" {
				t.Fatalf("Compile(%q): empty error", src)
			}
			return
		}
		if _, err := p.Run(in); err != nil && errors.Is(err, condition.ErrBudget) {
			var ce *condition.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Run(%q): budget error %v is not located", src, err)
			}
		}
	})
}
