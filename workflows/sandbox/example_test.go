package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/relata/relata/workflows/sandbox"
)

func ExampleSandbox_Run() {
	sb := sandbox.New()
	res, err := sb.Run(context.Background(), `
		const total = record.amount * (1 + record.vat / 100);
		set('total', Math.round(total * 100) / 100);
		set('label', record.name.toUpperCase() + ' – ' + now.slice(0, 10));
		log('computed', {total});
		return total > 1000;
	`, sandbox.Input{
		Record: map[string]any{"name": "Acme renewal", "amount": 1200, "vat": 20},
		Now:    time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Value, res.Set["total"], res.Set["label"], res.Logs)
	// Output: true 1440 ACME RENEWAL – 2025-01-02 [computed {"total":1440}]
}

func ExampleSandbox_Run_timeout() {
	sb := sandbox.New(sandbox.Timeout(50 * time.Millisecond))
	_, err := sb.Run(context.Background(), `while (true) {}`, sandbox.Input{})
	fmt.Println(errors.Is(err, sandbox.ErrTimeout))
	// Output: true
}

func ExampleSandbox_Compile() {
	err := sandbox.New().Compile("const a = 1;\nconst b = a +;")
	var se *sandbox.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Line, se.Column, se.Message)
	}
	// Output: 2 14 Unexpected token ;
}
