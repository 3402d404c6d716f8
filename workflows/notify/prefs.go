package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// Channel says where a kind of notification reaches the user.
type Channel struct {
	App   bool `json:"app"`
	Email bool `json:"email"`
}

// Prefs are a user's notification preferences, stored as JSON in the user's notify_prefs
// field. Missing parts take their defaults: every kind in the app and none by email, the
// digest on, reminders 15 minutes before the due time.
//
//	{"kinds": {"mention": {"app": true, "email": true}}, "digest": false, "reminderMinutes": 30}
type Prefs struct {
	Kinds           map[string]Channel `json:"kinds,omitempty"`
	Digest          *bool              `json:"digest,omitempty"`
	ReminderMinutes *int               `json:"reminderMinutes,omitempty"`
}

// DefaultReminder is how long before a task's due time its reminder comes by default.
const DefaultReminder = 15 * time.Minute

// MaxReminder is the longest reminder lead time a user may choose.
const MaxReminder = 24 * time.Hour

// PrefsOf reads user's preferences; unreadable ones count as the defaults.
func PrefsOf(user *core.Record) Prefs {
	var p Prefs
	raw := user.GetString("notify_prefs")
	if raw != "" && raw != "null" {
		_ = json.Unmarshal([]byte(raw), &p)
	}
	return p
}

// Channel is where notifications of kind reach the user.
func (p Prefs) Channel(kind string) Channel {
	if c, ok := p.Kinds[kind]; ok {
		return c
	}
	return Channel{App: true}
}

// DigestOn reports whether the user wants the morning digest.
func (p Prefs) DigestOn() bool { return p.Digest == nil || *p.Digest }

// Reminder is how long before a task's due time the user is reminded (0: no reminders).
func (p Prefs) Reminder() time.Duration {
	if p.ReminderMinutes == nil {
		return DefaultReminder
	}
	// Clamped in minutes: a huge number of minutes overflows a Duration.
	m := min(max(*p.ReminderMinutes, 0), int(MaxReminder/time.Minute))
	return time.Duration(m) * time.Minute
}

// Location is user's time zone (UTC when unset or unknown).
func Location(user *core.Record) *time.Location {
	if name := user.GetString("timezone"); name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return time.UTC
}

// CheckPrefs reports what is wrong with raw, a user's notify_prefs as saved: unknown keys or
// kinds, values of the wrong type, a reminder lead time outside 0–1440 minutes. Read back,
// such preferences would silently count as the defaults ([PrefsOf]); at save the user (or
// the app) is told, naming the key.
func CheckPrefs(raw string) error {
	if raw == "" || raw == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var p Prefs
	if err := dec.Decode(&p); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return fmt.Errorf("%s: a %s, not a %s", typ.Field, typ.Value, typ.Type)
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	for kind := range p.Kinds {
		if !slices.Contains(Kinds, kind) {
			return fmt.Errorf("kinds: %q is not a kind of notification (%s)", kind, strings.Join(Kinds, ", "))
		}
	}
	if m := p.ReminderMinutes; m != nil && (*m < 0 || *m > int(MaxReminder/time.Minute)) {
		return fmt.Errorf("reminderMinutes: %d is not between 0 and %d", *m, int(MaxReminder/time.Minute))
	}
	return nil
}

// CheckZone returns an error naming the problem when name is not an IANA time zone.
func CheckZone(name string) error {
	if name == "" {
		return nil
	}
	if name == "Local" {
		return fmt.Errorf("time zone %q: name a zone such as Europe/Rome", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("time zone %q is not an IANA time zone name such as Europe/Rome", name)
	}
	return nil
}
