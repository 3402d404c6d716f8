package workflows_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/condition"
)

// The SQL a time trigger filters with must never drop a record the condition keeps, and
// must keep exactly those when the whole condition is translated.
func TestConditionSQLAgreesWithExpr(t *testing.T) {
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
			prog, err := condition.Compile(obj, tt.cond)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, r := range all {
				if ok, err := prog.Eval(condition.Input{Record: r.FieldsData(), Now: time.Now()}); err != nil {
					t.Fatal(err)
				} else if ok {
					want = append(want, r.Id)
				}
			}
			params := dbx.Params{}
			where := workflows.ConditionSQL(tt.cond, coll, params)
			if where == "" {
				if tt.exact {
					t.Fatal("not translated")
				}
				return
			}
			var got []*core.Record
			if err := e.app.RecordQuery(coll).AndWhere(dbx.NewExp(where, params)).All(&got); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.Id)
			}
			for _, id := range want {
				if !slices.Contains(ids, id) {
					t.Fatalf("SQL %s drops record %s that the condition keeps", where, id)
				}
			}
			if tt.exact && len(ids) != len(want) {
				t.Errorf("SQL %s keeps %d records; the condition %d", where, len(ids), len(want))
			}
			if len(want) == 0 || len(want) == len(all) {
				t.Logf("note: the condition keeps %d of %d records", len(want), len(all))
			}
		})
	}
}
