package notify_test

import (
	"encoding/json"
	"testing"

	"github.com/relata/relata/workflows/notify"
)

// FuzzCheckPrefs: CheckPrefs never panics, and preferences it accepts are read back as
// written — the JSON decodes, and the reminder lead time is the minutes asked for, within
// 0–24 h — so nothing it lets through silently counts as the defaults.
func FuzzCheckPrefs(f *testing.F) {
	for _, s := range []string{``, `null`, `{}`, `{"digest": false}`, `{"reminderMinutes": 30}`, `{"reminderMinutes": 1440}`,
		`{"reminderMinutes": 99999}`, `{"digest": "no"}`, `{"kinds": {"mention": {"app": true, "email": true}}}`,
		`{"kinds": {"mentions": {}}}`, `{"digets": true}`, `[]`, `"x"`, `{"reminderMinutes": 1e400}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if notify.CheckPrefs(raw) != nil || raw == "" || raw == "null" {
			return
		}
		var p notify.Prefs
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			t.Fatalf("accepted %q, which does not decode: %v", raw, err)
		}
		if m := p.ReminderMinutes; m != nil {
			if got := int(p.Reminder().Minutes()); got != *m {
				t.Fatalf("accepted %q: reminder %d min, read back as %d", raw, *m, got)
			}
		}
	})
}
