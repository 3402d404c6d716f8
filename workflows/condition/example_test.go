package condition_test

import (
	"fmt"
	"time"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/condition"
)

func ExampleCompile() {
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		panic(err)
	}
	var deals *schemas.Object
	for _, o := range objs {
		if o.Name == "deals" {
			deals = o
		}
	}

	// Compile once, when the workflow is saved.
	p, err := condition.Compile(deals, `changedTo("stage", "won") && record.amount > 10000`)
	if err != nil {
		panic(err)
	}

	// Evaluate for every event.
	ok, err := p.Eval(condition.Input{
		Record:  map[string]any{"stage": "won", "amount": 25000.0, "amount_currency": "EUR"},
		Old:     map[string]any{"stage": "negotiation", "amount": 25000.0},
		Changed: []string{"stage"},
		Now:     time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Event:   "update",
	})
	fmt.Println(ok, err)

	// Mistakes are found at save time, with their position.
	_, err = condition.Compile(deals, `record.stage == "won" && record.amout > 10000`)
	fmt.Println(err)
	fmt.Println(err.(*condition.Error).Snippet)

	// Output:
	// true <nil>
	// 1:33: unknown field "amout" of deals (did you mean "amount"?)
	// record.stage == "won" && record.amout > 10000
	//                                 ^
}
