package notify_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// BenchmarkReminders is one minute's reminder pass over n open tasks due within the next
// day (MaxReminder), spread over 50 owners with the default lead time of 15 minutes and none
// due within it: the pass reads every task in the window and reminds nobody — the steady
// state of a busy CRM, which the minute job pays all day. Tasks are written with SQL.
//
//	go test ./workflows/notify -run '^$' -bench Reminders -benchtime 5x
func BenchmarkReminders(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			e := newEnv(b)
			now := e.clock.Now()
			owners := make([]*core.Record, 50)
			for i := range owners {
				owners[i] = e.user(b, fmt.Sprintf("rep%02d@example.com", i), "", `{"digest": false}`)
			}
			insertTasks(b, e.app, owners, n, now.Add(20*time.Minute), 23*time.Hour)
			b.ResetTimer()
			for b.Loop() {
				if err := e.n.Reminders(now); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if got := len(e.notifications(b, owners[0])); got != 0 {
				b.Fatalf("%d reminders sent, want none", got)
			}
		})
	}
}

// insertTasks writes n open tasks of owners (round robin) with SQL, due from first on,
// spread evenly over span.
func insertTasks(t testing.TB, app core.App, owners []*core.Record, n int, first time.Time, span time.Duration) {
	t.Helper()
	tasks := make([]sqlTask, n)
	for i := range tasks {
		due := first.Add(span * time.Duration(i) / time.Duration(n)).UTC().Truncate(time.Second).Add(time.Second)
		tasks[i] = sqlTask{Due: due, Owner: owners[i%len(owners)].Id}
	}
	writeTasks(t, app, tasks)
}
