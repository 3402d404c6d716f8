package notify_test

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/notify"
)

// TestPrefsReminder: the lead time a user stores is read within 0 and MaxReminder, whatever
// the number (minutes beyond ~153 trillion overflowed a Duration into seconds or less).
func TestPrefsReminder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		prefs string
		want  time.Duration
	}{
		{``, notify.DefaultReminder},
		{`{"reminderMinutes": 30}`, 30 * time.Minute},
		{`{"reminderMinutes": 0}`, 0},
		{`{"reminderMinutes": -5}`, 0},
		{`{"reminderMinutes": 1441}`, notify.MaxReminder},
		{`{"reminderMinutes": 153722867280912931}`, notify.MaxReminder},
		{`{"reminderMinutes": 461168601842738805}`, notify.MaxReminder},
		{`{"reminderMinutes": 9223372036854775807}`, notify.MaxReminder},
		{`{"reminderMinutes": -9223372036854775808}`, 0},
	} {
		u := core.NewRecord(core.NewAuthCollection("users"))
		u.Set("notify_prefs", c.prefs)
		if got := notify.PrefsOf(u).Reminder(); got != c.want {
			t.Errorf("%s: reminder %v, want %v", c.prefs, got, c.want)
		}
	}
}
