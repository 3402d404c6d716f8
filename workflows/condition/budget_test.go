package condition_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/relata/relata/workflows/condition"
)

// bigInput holds the largest text and lists a record may bring: notes and a json list near
// the text budget, so the worst cases below are measured on the worst records.
func bigInput() condition.Input {
	items := make([]any, 2000)
	for i := range items {
		items[i] = map[string]any{"sku": strings.Repeat("s", 40), "qty": float64(i)}
	}
	tags := make([]string, 500)
	for i := range tags {
		tags[i] = "tag" + strings.Repeat("x", i%20)
	}
	return condition.Input{
		Record: map[string]any{
			"title": strings.Repeat("t", 200),
			"notes": strings.Repeat("lorem ipsum dolor sit amet, ", 9000), // 252 kB
			"tags":  tags,
			"meta":  map[string]any{"items": items},
		},
		Now:   now,
		Event: "update",
	}
}

// TestBudgetRefusedAtCompile lists expressions that could never finish in budget or that
// would do unbounded work at every save; each is refused when the workflow is saved, at its
// place in the source.
func TestBudgetRefusedAtCompile(t *testing.T) {
	obj := kitchen()
	tests := []struct {
		name     string
		src      string
		line     int
		col      int
		contains string
	}{
		{name: "finding 5: 13 s reduce", src: `len(reduce(1..100000, #acc + "xxxxxxxxxx", "")) < 0`, line: 1, col: 13, contains: "range 1..100000 has 100000 numbers"},
		{name: "huge range", src: `len(1..100000000) > 0`, line: 1, col: 6, contains: "at most 5000 list elements"},
		{name: "negative huge range", src: "record.score > 0 &&\n  any(-50000..50000, # == 3)", line: 2, col: 13, contains: "range -50000..50000"},
		{name: "nested huge range", src: `all(1..10, all(1..20000, # > 0))`, line: 1, col: 17, contains: "range 1..20000"},
		{name: "pattern from data", src: `record.title matches record.notes`, line: 1, col: 29, contains: "matches needs a pattern in quotes"},
		{name: "pattern built", src: `record.title matches ("a" + record.notes)`, line: 1, col: 27, contains: "matches needs a pattern in quotes"},
		{name: "pattern too large", src: `record.notes matches "(((a{10}){10}){10})"`, line: 1, col: 22, contains: "pattern is too large"},
		{name: "pattern invalid", src: `record.notes matches "a{5000}"`, line: 1, col: 22, contains: "bad pattern"},
		{name: "too many nodes", src: strings.Repeat("1+", 1100) + "1 > 0", line: 1, contains: "exceeds maximum allowed nodes"},
		{name: "deeply nested", src: strings.Repeat("!", 1500) + "true", line: 1, contains: "exceeds maximum allowed nodes"},
		{name: "too long", src: `record.title == "` + strings.Repeat("x", 5000) + `"`, line: 1, contains: "longer than 4096 bytes"},
		{name: "hidden budget", src: `$budget != nil`, line: 1, col: 1, contains: "unknown name $budget"},
		{name: "charging function", src: `$cost(record.notes, nil) != ""`, line: 1, col: 1, contains: "unknown name $cost"},
		{name: "step function", src: `$step(1, nil, 0) > 0`, line: 1, col: 1, contains: "unknown name $step"},
		{name: "repeat with three arguments", src: `repeat("x", 2, 3) != ""`, line: 1, col: 1, contains: "repeat takes 2 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.Compile(obj, tt.src)
			var ce *condition.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) = %v, %v; want a *condition.Error", short(tt.src), p, err)
			}
			if ce.Line != tt.line || (tt.col != 0 && ce.Column != tt.col) || !strings.Contains(ce.Message, tt.contains) {
				t.Errorf("Compile(%q) = %d:%d %q; want %d:%d containing %q", short(tt.src), ce.Line, ce.Column, ce.Message, tt.line, tt.col, tt.contains)
			}
		})
	}
}

// TestBudgetStopsEvaluation lists expressions that compile but would walk too much for the
// record at hand; each evaluation stops with ErrBudget at the place that went over, after
// doing at most about the budget's work.
func TestBudgetStopsEvaluation(t *testing.T) {
	obj := kitchen()
	big := bigInput()
	tests := []struct {
		name string
		src  string
	}{
		{name: "string building in reduce", src: `len(reduce(1..5000, #acc + "xxxxxxxxxx", "")) < 0`},
		{name: "doubling", src: `len(reduce(1..40, #acc + #acc, "x")) > 0`},
		{name: "let doubling", src: `let a = repeat("x", 1000); let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; let g = f + f; let h = g + g; let i = h + h; let j = i + i; let k = j + j; len(k + k) > 0`},
		{name: "nested loops", src: `all(1..1000, all(1..1000, # > 0))`},
		{name: "toJSON of a big json field", src: `len(toJSON(record)) > 0`},
		{name: "triple nested filter map reduce", src: `len(filter(1..100, len(map(1..100, reduce(1..100, #acc + #, 0))) > 0)) > 0`},
		{name: "repeat", src: `len(repeat("x", 10000000)) > 0`},
		{name: "repeat of a field", src: `len(repeat(record.notes, 5)) > 0`},
		{name: "replace blow-up", src: `len(replace(record.title, "", repeat("b", 10000))) > 0`},
		{name: "join blow-up", src: `len(join(map(1..10, record.notes), ",")) > 0`},
		{name: "scan in a loop", src: `any(1..5000, record.notes contains "zz")`},
		{name: "upper in a loop", src: `all(1..1000, upper(record.notes) != "")`},
		{name: "compare computed strings in a loop", src: `all(1..1000, record.notes <= record.notes)`},
		{name: "regex in a loop", src: `any(1..100, record.notes matches "z+y")`},
		{name: "regex on big text", src: `record.notes matches "lorem.*z+y"`},
		{name: "upper of big text", src: `upper(record.notes) != ""`},
		{name: "split into many", src: `len(sort(split(record.notes, ""))) > 0`},
		{name: "json list walked in a loop", src: `all(1..10, all(record.meta.items, #.qty >= 0))`},
		{name: "toJSON of many records", src: `len(toJSON(map(1..100, record))) > 0`},
		{name: "string of many records", src: `len(string(map(1..100, record))) > 0`},
		{name: "membership in a big list in a loop", src: `any(1..100, "zz" in record.tags)`},
		{name: "sort in a loop", src: `any(1..100, len(sort(record.tags)) == 0)`},
		{name: "fromJSON in a loop", src: `all(1..4999, fromJSON("[1,2,3]") != nil)`},
		{name: "time method in a loop", src: `all(1..4999, record.created.Format("2006") != "")`},
		{name: "uniq is quadratic", src: `len(uniq(map(1..2000, string(#)))) > 0`},
		{name: "groupBy and its keys", src: `len(keys(groupBy(1..4999, string(#)))) > 0`},
		{name: "value nested too deep for toJSON", src: `len(toJSON(reduce(1..100, [#acc], []))) > 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := condition.Compile(obj, tt.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", short(tt.src), err)
			}
			got, err := p.Eval(big)
			var ce *condition.Error
			if !errors.Is(err, condition.ErrBudget) && !strings.Contains(errString(err), "memory budget exceeded") {
				t.Fatalf("Eval(%q) = %v, %v; want the budget exceeded", short(tt.src), got, err)
			}
			if !errors.As(err, &ce) || ce.Line < 1 || ce.Column < 1 {
				t.Errorf("Eval(%q) error %v is not located", short(tt.src), err)
			}
		})
	}
}

// TestBudgetAllowsNormalWork checks that the budget leaves room for what conditions are for.
func TestBudgetAllowsNormalWork(t *testing.T) {
	obj := kitchen()
	big := bigInput()
	for _, src := range worstAccepted {
		p, err := condition.Compile(obj, src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", short(src), err)
		}
		if _, err := p.Eval(big); err != nil {
			t.Errorf("Eval(%q): %v", short(src), err)
		}
	}
}

// worstAccepted are expressions close to the budget in each dimension; their cost is
// measured by BenchmarkWorstAccepted.
var worstAccepted = []string{
	`reduce(1..4999, #acc + #, 0) > 0`,
	`all(1..69, all(1..70, # > 0))`,
	`len(reduce(1..400, #acc + "xxxxx", "")) > 0`,
	`none(1..4, record.notes contains "zz")`,
	`upper(record.notes[0:120000]) != ""`,
	`not (record.notes[0:15000] matches "lorem.*z+y")`,
	`len(sort(map(1..1600, -#))) > 0`,
	`len(toJSON(record.meta.items[0:550])) > 0`,
	`len(split(record.notes, ".")) > 0`,
	`len(join(split(record.notes, "amet, lorem ipsum dolor sit amet,"), "-")) > 0`,
	`all(record.meta.items, #.qty >= 0) && len(toJSON(record.title)) > 0`,
	`sum(map(record.meta.items, #.qty)) > 0`,
	`len(filter(record.tags, # startsWith "tagx")) > 0`,
	`record.title matches "^t+$"`,
	`len(replace(record.title, "t", "tt")) == 400`,
	`len(uniq(map(1..500, string(#)))) > 0`,
	`groupBy(1..1600, string(#)) != nil`,
	`all(1..999, fromJSON("[1,2,3]") != nil)`,
	`all(1..999, record.created.Format("2006") != "")`,
	`all(1..1600, string(#) != "")`,
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
