package dedupe

import "testing"

// The scan's keys: a stored phone's last seven digits whatever separates them, and the same
// key from the normal form of a probe's phone.
func TestPhoneKeys(t *testing.T) {
	for _, c := range []struct{ stored, want string }{
		{"+39 02 1234 5678", "2345678"},
		{"(415) 555-0100", "5550100"},
		{"+44.20.7946.0018 ", "9460018"},
		{"555-01", ""},
		{"", ""},
	} {
		if got := digitsKey(c.stored); got != c.want {
			t.Errorf("digitsKey(%q) = %q; want %q", c.stored, got, c.want)
		}
	}
	for _, c := range []struct{ e164, want string }{
		{"+390212345678", "2345678"},
		{"+123456", ""},
		{"", ""},
	} {
		if got := phoneKey(c.e164); got != c.want {
			t.Errorf("phoneKey(%q) = %q; want %q", c.e164, got, c.want)
		}
	}
}
