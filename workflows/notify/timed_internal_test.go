package notify

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
)

// TestDueTasksPages: the reminder pass reads every open task with an owner due within
// MaxReminder once, in order of due time and id — also where a page of FindMaxLimit ends
// among tasks due at the same second (twice here, with random ids) — and reads the pages by
// key, never by OFFSET (which walked every task of the pages before: quadratic).
func TestDueTasksPages(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	n, err := Register(app, Config{Registry: reg, NoCron: true})
	if err != nil {
		t.Fatal(err)
	}
	ada, _ := schemastest.NewUser(t, app, "ada@example.com", "sales", "north")
	now := time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return dbTime(now.Add(d)) }

	type task struct {
		id, due, owner string
		done           bool
	}
	var want, all []task
	add := func(due string, n int) {
		for range n {
			tk := task{id: core.GenerateDefaultRandomId(), due: due, owner: ada.Id}
			want, all = append(want, tk), append(all, tk)
		}
	}
	for i := range 995 { // positions 0–994
		add(at(time.Minute+time.Duration(i)*10*time.Second), 1)
	}
	add(at(3*time.Hour), 12) // 995–1006: the first page ends among them
	for i := range 983 {     // 1007–1989
		add(at(4*time.Hour+time.Duration(i)*time.Second), 1)
	}
	add(at(5*time.Hour), 30)                                    // 1990–2019: so does the second
	add(dbTime(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)), 1) // a day: read (remind skips it)
	add(at(MaxReminder), 1)                                     // the window's last moment
	for _, tk := range []task{
		{due: at(3 * time.Hour), owner: ada.Id, done: true}, // done
		{due: at(3 * time.Hour)},                            // nobody's
		{due: at(0), owner: ada.Id},                         // due now: past
		{due: at(-time.Hour), owner: ada.Id},                // overdue
		{due: at(MaxReminder + time.Second), owner: ada.Id}, // beyond the window
		{due: "", owner: ada.Id},                            // no due time
	} {
		tk.id = core.GenerateDefaultRandomId()
		all = append(all, tk)
	}
	stamp := dbTime(time.Now())
	rows := make([][]any, len(all))
	for i, tk := range all {
		rows[i] = []any{tk.id, "task", fmt.Sprint("Task ", i), tk.due, tk.done, tk.owner, stamp, stamp}
	}
	if err := schemas.InsertMany(app, "activities", []string{"id", "type", "subject", "due", "done", "owner", "created", "updated"}, rows); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b task) int { return strings.Compare(a.due+" "+a.id, b.due+" "+b.id) })

	var mu sync.Mutex
	var stmts []string
	db := app.ConcurrentDB().(*dbx.DB)
	db.QueryLogFunc = func(_ context.Context, _ time.Duration, s string, _ *sql.Rows, _ error) {
		mu.Lock()
		stmts = append(stmts, s)
		mu.Unlock()
	}
	tasks, ok := n.tasks()
	if !ok {
		t.Fatal("no task object")
	}
	var got []string
	if err := n.dueTasks(tasks, now, func(rec *core.Record) { got = append(got, rec.Id) }); err != nil {
		t.Fatal(err)
	}
	db.QueryLogFunc = nil

	if len(got) != len(want) {
		t.Errorf("read %d tasks, want %d", len(got), len(want))
	}
	seen := map[string]int{}
	for i, id := range got {
		if prev, twice := seen[id]; twice {
			t.Errorf("task %s read twice: at %d and %d", id, prev, i)
		}
		seen[id] = i
		if i < len(want) && id != want[i].id {
			t.Errorf("position %d: task %s, want %s (due %s)", i, id, want[i].id, want[i].due)
			break
		}
	}
	var pages int
	for _, s := range stmts {
		if !strings.Contains(s, "activities") {
			continue
		}
		pages++
		if strings.Contains(strings.ToUpper(s), "OFFSET") {
			t.Errorf("a page is read by offset:\n%s", s)
		}
	}
	// A next page is a range of the cursor index on (due, id), not a sort of every task due.
	if plan := schemastest.QueryPlan(t, app, stmts[len(stmts)-1], nil); strings.Contains(plan, "TEMP B-TREE") ||
		!strings.Contains(plan, "USING INDEX idx_activities_due_id (due>? AND due<?)") {
		t.Errorf("a next page is no range of the (due, id) index:\n%s\n%s", stmts[len(stmts)-1], plan)
	}
	if pages != 3 {
		t.Errorf("%d queries of activities, want 3 pages:\n%s", pages, strings.Join(stmts, "\n"))
	}
}

// TestEmailCapUsesIndex: the cap's count reads one user's notices of the last hour by the
// index of migration 1764005600 (to_users, created; notices only), not every email of the
// outbox (campaigns fill it) nor every user's notices — with 3,000 older emails, campaign mail
// and notices to ada and bob, in the outbox, before and after ANALYZE.
func TestEmailCapUsesIndex(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	now := time.Now().UTC()
	err := app.RunInTransaction(func(tx core.App) error {
		for i := range 3000 {
			user := []string{"ada0000000000001", "bob0000000000002"}[i%2]
			users, _ := outbox.StoredUserIDs([]string{user})
			_, err := tx.DB().Insert("emails", dbx.Params{"id": fmt.Sprintf("e%014d", i), "to": `["` + user + `@example.com"]`,
				"to_users": users, "notice": i%3 == 0, "created": dbTime(now.Add(-time.Duration(i) * time.Minute))}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	users, _ := outbox.StoredUserIDs([]string{"ada0000000000001"})
	params := dbx.Params{"since": dbTime(now.Add(-time.Hour)), "users": users, "max": 20}
	// QueryPlan shows the plan before and after ANALYZE: both must be the range.
	plan := schemastest.QueryPlan(t, app, capCount, params)
	if strings.Count(plan, "SEARCH emails USING COVERING INDEX idx_emails_notice_user (to_users=? AND created>?)") != 2 || strings.Contains(plan, "SCAN emails") {
		t.Errorf("the cap's count runs as\n%s\nwant a range of idx_emails_notice_user, no scan of the emails", plan)
	}
	var n int
	if err := app.DB().NewQuery(capCount).Bind(params).Row(&n); err != nil || n != 10 {
		t.Errorf("count = %d, %v; want ada's 10 notices of the last hour", n, err)
	}
}
