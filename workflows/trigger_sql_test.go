package workflows_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/condition"
)

// The SQL a time trigger filters with must never drop a record the condition keeps, and
// must keep exactly those when the whole condition is translated.
func TestConditionSQLAgreesWithExpr(t *testing.T) {
	e, coll, obj, all := sqlFixture(t)
	tests := []struct {
		cond  string
		exact bool // the whole condition becomes SQL
	}{
		{`record.stage != "lost"`, true},
		{`record.stage == "won" || record.stage == "lost"`, true},
		{`not (record.stage in ["won", "lost"])`, true},
		{`record.stage not in ["won", "lost"] && record.amount >= 500`, true},
		{`record.amount > 100 and record.amount <= 700`, true},
		{`500 < record.amount`, true},
		{`record.amount == 74`, true},
		{`record.amount in [0, 37, 74.0]`, true},
		{`record.amount_currency == "GBP"`, true},
		{`record.owner == "` + e.alice.Id + `"`, true},
		{`record.lost_reason == "O'Brien \"quoted\""`, true},
		{`!(record.stage == "lead")`, true},
		{`record.stage != "lost" && lower(record.name) contains "1"`, false},
		{`lower(record.stage) != "lost"`, false},
		{`record.stage != "lost" || record.name startsWith "deal 1"`, false},
		{`record.stage > "l"`, false},
		{`record.amount > 100 && daysSince(record.created) >= 0`, false},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			if msg := checkConditionSQL(e, coll, obj, all, tt.cond, tt.exact); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

// FuzzConditionSQL: for any condition that compiles, the SQL filter keeps every record the
// condition keeps.
func FuzzConditionSQL(f *testing.F) {
	for _, s := range []string{`record.stage != "lost"`, `not (record.stage in ["won", "lost"]) || record.amount < 3`,
		`record.amount >= 500 and !(record.amount_currency == "EUR")`, `record.stage == "won" && lower(record.name) != ""`} {
		f.Add(s)
	}
	e, coll, obj, all := sqlFixture(f)
	f.Fuzz(func(t *testing.T, cond string) {
		if _, err := condition.Compile(obj, cond); err != nil {
			return
		}
		if msg := checkConditionSQL(e, coll, obj, all, cond, false); msg != "" {
			t.Fatal(msg)
		}
	})
}

func sqlFixture(t testing.TB) (*env, *core.Collection, *schemas.Object, []*core.Record) {
	t.Helper()
	e := newEnv(t, workflows.Config{})
	stages := []string{"lead", "qualified", "won", "lost", ""}
	currencies := []string{"EUR", "GBP", ""}
	for i := range 60 {
		schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": fmt.Sprint("deal ", i), "stage": stages[i%len(stages)],
			"amount": float64((i * 37) % 1000), "amount_currency": currencies[i%len(currencies)], "owner": []string{e.alice.Id, e.bob.Id, ""}[i%3],
			"lost_reason": []string{"", "price", "O'Brien \"quoted\""}[i%3]})
	}
	coll, err := e.app.FindCollectionByNameOrId("deals")
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := e.reg.Object("deals")
	all, err := e.app.FindAllRecords("deals")
	if err != nil {
		t.Fatal(err)
	}
	return e, coll, obj, all
}

// checkConditionSQL returns what is wrong with the SQL of cond on the records all, or "".
func checkConditionSQL(e *env, coll *core.Collection, obj *schemas.Object, all []*core.Record, cond string, exact bool) string {
	prog, err := condition.Compile(obj, cond)
	if err != nil {
		return err.Error()
	}
	var want []string
	for _, r := range all {
		ok, err := prog.Eval(condition.Input{Record: r.FieldsData(), Now: time.Now()})
		if err != nil {
			return "" // a condition failing at run time queues nothing either way
		}
		if ok {
			want = append(want, r.Id)
		}
	}
	params := dbx.Params{}
	where := workflows.ConditionSQL(cond, coll, params)
	if where == "" {
		if exact {
			return "not translated"
		}
		return ""
	}
	var got []*core.Record
	if err := e.app.RecordQuery(coll).AndWhere(dbx.NewExp(where, params)).All(&got); err != nil {
		return fmt.Sprintf("%s: %v", where, err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.Id)
	}
	for _, id := range want {
		if !slices.Contains(ids, id) {
			return fmt.Sprintf("SQL %s drops record %s that the condition keeps", where, id)
		}
	}
	if exact && len(ids) != len(want) {
		return fmt.Sprintf("SQL %s keeps %d records; the condition %d", where, len(ids), len(want))
	}
	return ""
}
