package workflows_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

const dbLayout = "2006-01-02 15:04:05.000Z"

// insertRows writes n rows into collection with raw SQL in one transaction, as a big
// deployment's data would be: row(i) gives the columns of row i. Ids are "r" + 14 digits, in
// the order of i.
func insertRows(t testing.TB, app core.App, collection string, n int, row func(i int) map[string]any) {
	t.Helper()
	err := app.RunInTransaction(func(tx core.App) error {
		for start := 0; start < n; start += 200 {
			var values []string
			params := dbx.Params{}
			var cols []string
			for i := start; i < min(n, start+200); i++ {
				r := row(i)
				r["id"] = fmt.Sprintf("r%014d", i)
				if cols == nil {
					for c := range r {
						cols = append(cols, c)
					}
				}
				ph := make([]string, len(cols))
				for j, c := range cols {
					k := fmt.Sprintf("p%d_%d", i, j)
					params[k] = r[c]
					ph[j] = "{:" + k + "}"
				}
				values = append(values, "("+strings.Join(ph, ", ")+")")
			}
			q := "INSERT INTO " + collection + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.Join(values, ", ")
			if _, err := tx.DB().NewQuery(q).Bind(params).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func countRuns(t testing.TB, e *env, workflow string) int {
	t.Helper()
	var n int
	if err := e.app.DB().NewQuery("SELECT count(*) FROM workflow_runs WHERE workflow_name = {:w}").
		Bind(dbx.Params{"w": workflow}).Row(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func runRecords(t testing.TB, e *env, workflow string) []string {
	t.Helper()
	var ids []string
	if err := e.app.DB().NewQuery("SELECT record_id FROM workflow_runs WHERE workflow_name = {:w} ORDER BY record_id").
		Bind(dbx.Params{"w": workflow}).Column(&ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

func tickTwice(t testing.TB, e *env, at time.Time) {
	t.Helper()
	for range 2 {
		if err := e.eng.Tick(at); err != nil {
			t.Fatal(err)
		}
	}
}

// Time triggers must reach every due record whatever their number: 10,000 records, the
// matching ones after more than 1,000 non-matching (or not yet due) ones, for conditions SQL
// can decide and for ones only expr can.
func TestTimeTriggersWalkEveryRecord(t *testing.T) {
	const n = 10_000
	const matching = 7
	conditions := map[string]string{
		"in sql":  `record.stage != "lost"`,
		"in expr": `lower(record.stage) != "lost"`,
	}
	cases := []struct {
		name    string
		trigger string
		row     func(i int, now time.Time) map[string]any
		at      func(now time.Time) time.Time
	}{{
		name:    "dormant",
		trigger: `{"type": "dormant", "days": 30}`,
		// 3,000 fresh deals (not due), 6,993 lost dormant ones, 7 open dormant ones last.
		row: func(i int, now time.Time) map[string]any {
			updated := now.Add(-60 * 24 * time.Hour).Add(time.Duration(i) * time.Second)
			if i < 3000 {
				updated = now.Add(-time.Duration(i) * time.Second)
			}
			return map[string]any{"name": fmt.Sprint("deal ", i), "stage": stageOf(i, n-matching), "updated": updated.Format(dbLayout), "created": updated.Format(dbLayout)}
		},
		at: func(now time.Time) time.Time { return now },
	}, {
		name:    "date",
		trigger: `{"type": "date", "field": "expected_close", "offset": "-1d"}`,
		// 3,000 deals closing next month (not due), 6,993 lost ones and 7 open ones closing
		// within the day ahead, latest last.
		row: func(i int, now time.Time) map[string]any {
			closeAt := now.Add(24*time.Hour + time.Duration(i)*300*time.Millisecond)
			if i < 3000 {
				closeAt = now.Add(30 * 24 * time.Hour)
			}
			return map[string]any{"name": fmt.Sprint("deal ", i), "stage": stageOf(i, n-matching), "expected_close": closeAt.Format(dbLayout),
				"updated": now.Add(-48 * time.Hour).Format(dbLayout)}
		},
		at: func(now time.Time) time.Time { return now.Add(time.Hour) },
	}, {
		name:    "schedule",
		trigger: `{"type": "schedule", "cron": "0 10 * * *"}`,
		row: func(i int, now time.Time) map[string]any {
			return map[string]any{"name": fmt.Sprint("deal ", i), "stage": stageOf(i, n-matching)}
		},
		at: func(now time.Time) time.Time { return now.Add(time.Hour) },
	}}
	for _, c := range cases {
		for cname, cond := range conditions {
			t.Run(c.name+"/"+cname, func(t *testing.T) {
				e := newEnv(t, workflows.Config{})
				now := e.clock.Now()
				insertRows(t, e.app, "deals", n, func(i int) map[string]any { return c.row(i, now) })
				e.save(t, fmt.Sprintf(`{"name": "w", "enabled": true, "object": "deals", "trigger": %s, "condition": %q,
				  "actions": [{"type": "update_record", "values": {"description": "seen"}}]}`, c.trigger, cond))
				at := c.at(now)
				tickTwice(t, e, at)
				got := runRecords(t, e, "w")
				if len(got) != matching {
					t.Fatalf("runs = %d; want %d", len(got), matching)
				}
				for i, id := range got {
					if want := fmt.Sprintf("r%014d", n-matching+i); id != want {
						t.Errorf("run %d is for %s; want %s", i, id, want)
					}
				}
				// Exactly once: a later tick of the same spell, date or minute queues nothing.
				if c.name != "schedule" {
					tickTwice(t, e, at.Add(time.Minute))
				}
				if got := countRuns(t, e, "w"); got != matching {
					t.Errorf("runs after more ticks = %d; want %d", got, matching)
				}
			})
		}
	}
}

func stageOf(i, firstOpen int) string {
	if i >= firstOpen {
		return "qualified"
	}
	return "lost"
}

// A record created or changed after its date trigger was due (a deal closing in 2 hours,
// created with a "1 day before" reminder) fires at once only with fireLate; records created
// in time fire either way; a date already past never fires late.
func TestDateTriggerFireLate(t *testing.T) {
	for _, fireLate := range []bool{false, true} {
		t.Run(fmt.Sprint("fireLate=", fireLate), func(t *testing.T) {
			e := newEnv(t, workflows.Config{})
			now := e.clock.Now()
			e.save(t, fmt.Sprintf(`{"name": "remind", "enabled": true, "object": "deals",
			  "trigger": {"type": "date", "field": "expected_close", "offset": "-1d", "fireLate": %v},
			  "actions": [{"type": "update_record", "values": {"description": "reminded"}}]}`, fireLate))
			at := func(d time.Duration) string { return now.Add(d).Format(dbLayout) }
			insertRows(t, e.app, "deals", 4, func(i int) map[string]any {
				return []map[string]any{
					// created a week ago, closing in 25 hours: due in an hour, in time.
					{"name": "in time", "expected_close": at(25 * time.Hour), "updated": at(-7 * 24 * time.Hour)},
					// created just now, closing in 2 hours: inside the window.
					{"name": "booked late", "expected_close": at(2 * time.Hour), "updated": at(0)},
					// created just now, closed yesterday: the date itself is past.
					{"name": "past", "expected_close": at(-24 * time.Hour), "updated": at(0)},
					// created just now, closing in 3 days: not due yet.
					{"name": "later", "expected_close": at(72 * time.Hour), "updated": at(0)},
				}[i]
			})
			tickTwice(t, e, now.Add(time.Minute))
			var want []string
			if fireLate {
				want = append(want, "r00000000000001")
			}
			if got := runRecords(t, e, "remind"); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("runs after a minute for %v; want %v", got, want)
			}
			tickTwice(t, e, now.Add(61*time.Minute))
			want = append([]string{"r00000000000000"}, want...)
			if got := runRecords(t, e, "remind"); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("runs for %v; want %v", got, want)
			}
			// The later deal fires when it comes due, either way.
			tickTwice(t, e, now.Add(48*time.Hour+time.Minute))
			if got := countRuns(t, e, "remind"); got != len(want)+1 {
				t.Errorf("runs after 2 days = %d; want %d", got, len(want)+1)
			}
		})
	}
}

func TestFireLateOnlyForDateTriggers(t *testing.T) {
	_, err := workflows.Parse("x.json", []byte(`{"name": "x", "object": "deals", "trigger": {"type": "dormant", "days": 3, "fireLate": true}, "actions": [{"type": "update_record", "values": {"description": "x"}}]}`))
	if err == nil || !strings.Contains(err.Error(), "/trigger") {
		t.Errorf("err = %v; want an error at /trigger", err)
	}
}

var _ = schemastest.MustCreate
