package stmtcache

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
)

// ruleCheck runs a query built as PocketBase builds its create-rule check
// (apis/record_crud.go): a CTE of the record's values under a random name, its select list in
// the (shuffled) order of cols, and a condition on the CTE's columns with parameters of its
// own. It returns what the query selected: the CTE's columns joined, in name order.
func ruleCheck(t *testing.T, db *dbx.DB, random string, cols []string, vals map[string]string, want string) string {
	t.Helper()
	name := "contacts__pb_create__" + random
	params := dbx.Params{"want": want}
	selects := make([]string, 0, len(cols))
	for _, c := range cols {
		params["__pb_create__"+c] = vals[c]
		selects = append(selects, "{:__pb_create__"+c+"} AS [["+c+"]]")
	}
	with := fmt.Sprintf("WITH {{%s}} as (SELECT %s)", name, strings.Join(selects, ","))
	var got string
	err := db.Select("([[" + name + ".a]] || '-' || [[" + name + ".b]] || '-' || [[" + name + ".c]])").PreFragment(with).From(name).
		AndWhere(dbx.NewExp("[[" + name + ".owner]] = {:want}")).AndBind(params).Limit(1).Row(&got)
	if err != nil && err.Error() != "sql: no rows in result set" {
		t.Fatal(err)
	}
	return got
}

// PocketBase's create-rule check is normalised (fixed CTE name, columns sorted) and kept, so
// it is parsed once per connection, and each value still reaches its own column whatever the
// order PocketBase listed them in; rows the condition refuses stay refused.
func TestCreateRuleKept(t *testing.T) {
	db, stats := open(t)
	_, _, keptBefore := stats()
	cols := []string{"a", "b", "c", "owner", "id"}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 40
	for i := 0; i < n; i++ {
		r.Shuffle(len(cols), func(x, y int) { cols[x], cols[y] = cols[y], cols[x] })
		random := fmt.Sprintf("r%05d", i) // six characters, as PocketBase's
		vals := map[string]string{"a": fmt.Sprint("A", i), "b": fmt.Sprint("B", i), "c": fmt.Sprint("C", i), "owner": "u1", "id": "x"}
		want := "u1"
		if i%3 == 0 {
			want = "u2" // the rule refuses
		}
		got := ruleCheck(t, db, random, cols, vals, want)
		exp := fmt.Sprintf("A%d-B%d-C%d", i, i, i)
		if want == "u2" {
			exp = ""
		}
		if got != exp {
			t.Fatalf("create %d (columns %v): got %q, want %q", i, cols, got, exp)
		}
	}
	_, _, kept := stats()
	if kept != keptBefore {
		t.Errorf("%d ordinary statements kept, want %d: rule checks are kept apart", kept, keptBefore)
	}
	c, err := db.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Raw(func(dc any) error {
		cc := dc.(*conn)
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if len(cc.rules) != 1 || cc.ruleHits != n-1 {
			t.Errorf("%d rule statements kept and %d hits, want 1 and %d", len(cc.rules), cc.ruleHits, n-1)
		}
		return nil
	})
}

// Texts that are not exactly the shape PocketBase writes are left alone (run as one-offs).
func TestCreateRuleTextShapes(t *testing.T) {
	ok := "WITH `contacts__pb_create__Ab3xYz` as (SELECT ? AS `b`,? AS `a`) SELECT (1) FROM `contacts__pb_create__Ab3xYz` WHERE `contacts__pb_create__Ab3xYz`.`a` = ? LIMIT 1"
	text, perm, good := createRuleText(ok)
	want := "WITH `contacts__pb_create__cached` as (SELECT ? AS `a`,? AS `b`) SELECT (1) FROM `contacts__pb_create__cached` WHERE `contacts__pb_create__cached`.`a` = ? LIMIT 1"
	if !good || text != want || fmt.Sprint(perm) != "[1 0]" {
		t.Fatalf("createRuleText(%q) = %q, %v, %v; want %q, [1 0]", ok, text, perm, good, want)
	}
	for _, q := range []string{
		"SELECT 1",
		"WITH t__pb_create__r1 AS (SELECT ? AS v) SELECT v FROM t__pb_create__r1",                                        // not quoted as dbx quotes
		"WITH `contacts__pb_create__Ab3x` as (SELECT ? AS `a`) SELECT (1) FROM `contacts__pb_create__Ab3x`",              // random part not 6 long
		"WITH `contacts__pb_create__Ab3xYz` as (SELECT ? AS `a`,? AS `a`) SELECT (1) FROM `contacts__pb_create__Ab3xYz`", // a column twice
		"WITH `contacts__pb_create__Ab3xYz` as (SELECT 1 AS `a`) SELECT (1) FROM `contacts__pb_create__Ab3xYz`",          // not a placeholder
		"WITH `contacts__pb_create__Ab3xYz` as (SELECT ? AS `a b`) SELECT (1) FROM `contacts__pb_create__Ab3xYz`",        // not a column name
		"WITH `contacts__pb_create__Ab3xYz` as (SELECT ? AS `a`) SELECT (1) FROM `x__pb_create__Zz9xYz`",                 // another random name
		"WITH `contacts__pb_create__Ab3xYz` as (SELECT ? AS `a`)",                                                        // no query after the CTE
	} {
		if text, _, good := createRuleText(q); good {
			t.Errorf("createRuleText(%q) = %q, want it left alone", q, text)
		}
	}
}

// FuzzCreateRuleText: a recognised text keeps its placeholders and marker count, its select
// list becomes sorted and perm is a permutation of it; normalising again changes nothing.
func FuzzCreateRuleText(f *testing.F) {
	f.Add("WITH `contacts__pb_create__Ab3xYz` as (SELECT ? AS `b`,? AS `a`) SELECT (1) FROM `contacts__pb_create__Ab3xYz` WHERE `contacts__pb_create__Ab3xYz`.`a` = ? LIMIT 1")
	f.Add("WITH `x__pb_create__000000` as (SELECT ? AS `id`) SELECT DISTINCT (1) FROM `x__pb_create__000000` LEFT JOIN `users` `u` ON `u`.`id`=? WHERE ? = ? LIMIT 1")
	f.Add("WITH `contacts__pb_create__Ab3xYz` as (SELECT ? AS `a`,? AS `a`) SELECT (1)")
	f.Fuzz(func(t *testing.T, q string) {
		text, perm, ok := createRuleText(q)
		if !ok {
			return
		}
		if strings.Count(text, "?") != strings.Count(q, "?") || strings.Count(text, createMarker) != strings.Count(q, createMarker) {
			t.Fatalf("%q normalised to %q: placeholders or names lost", q, text)
		}
		seen := make([]bool, len(perm))
		for _, p := range perm {
			if p < 0 || p >= len(perm) || seen[p] {
				t.Fatalf("%q: perm %v is not a permutation", q, perm)
			}
			seen[p] = true
		}
		again, perm2, ok2 := createRuleText(text)
		if !ok2 || again != text {
			t.Fatalf("%q normalised to %q, then to %q (%v)", q, text, again, ok2)
		}
		for i, p := range perm2 {
			if p != i {
				t.Fatalf("%q: the normalised select list is not sorted (%v)", text, perm2)
			}
		}
	})
}

// A normalised check given fewer arguments than its select list has columns is refused, not
// run with its values in the wrong columns.
func TestCreateRuleTooFewArguments(t *testing.T) {
	s := &stmt{perm: []int{1, 0}}
	if _, err := s.args([]driver.NamedValue{{Ordinal: 1, Value: "a"}}); err == nil {
		t.Fatal("one argument for two columns accepted")
	}
	got, err := s.args([]driver.NamedValue{{Ordinal: 1, Value: "b"}, {Ordinal: 2, Value: "a"}, {Ordinal: 3, Value: "rule"}})
	if err != nil || got[0].Value != "a" || got[1].Value != "b" || got[2].Value != "rule" || got[2].Ordinal != 3 {
		t.Fatalf("args reordered to %v, %v", got, err)
	}
}
