package forms

import (
	"testing"
	"time"
)

func TestRateKey(t *testing.T) {
	for ip, want := range map[string]string{
		"203.0.113.7":                 "203.0.113.7",
		"2001:db8:1:2:3:4:5:6":        "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":        "2001:db8:1:2::/64",
		"::ffff:203.0.113.7":          "::ffff:203.0.113.7",
		"not an address":              "not an address",
		"2001:0db8:0001:0002:0:0:0:1": "2001:db8:1:2::/64",
	} {
		if got := rateKey(ip); got != want {
			t.Errorf("rateKey(%q) = %q; want %q", ip, got, want)
		}
	}
}

func TestLimiterWindows(t *testing.T) {
	l := newLimiter()
	now := time.Date(2026, 11, 23, 9, 0, 30, 0, time.UTC)
	for i := range 3 {
		if ok, _ := l.allow("k", now, 3, 5); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := l.allow("k", now, 3, 5)
	if ok || wait != 30*time.Second {
		t.Fatalf("4th in a minute = %v, wait %v; want refused for 30s", ok, wait)
	}
	if ok, _ := l.allow("other", now, 3, 5); !ok {
		t.Error("another key is limited too")
	}
	now = now.Add(time.Minute)
	for i := range 2 {
		if ok, _ := l.allow("k", now, 3, 5); !ok {
			t.Fatalf("next minute, request %d refused", i)
		}
	}
	if ok, wait := l.allow("k", now, 3, 5); ok || wait != 58*time.Minute+30*time.Second {
		t.Errorf("6th in an hour = %v, wait %v; want refused until the next hour", ok, wait)
	}
	if ok, _ := l.allow("k", now, 0, 0); !ok {
		t.Error("no limits refuses")
	}
	// Old windows are swept.
	l.allow("k", now.Add(3*time.Hour), 3, 5)
	if _, ok := l.windows["other"]; ok {
		t.Error("a window unused for hours was kept")
	}
}

func TestHTMLPattern(t *testing.T) {
	for p, want := range map[string]string{
		`^\+?[0-9][0-9 ().\-/]{2,31}$`: `\+?[0-9][0-9 \(\).\-\/]{2,31}`,
		`^[A-Z]{3}-[0-9]{2}$`:          `[A-Z]{3}-[0-9]{2}`,
		`^[-a-z]+$`:                    `[\-a-z]+`,
		`^[a-z-]+$`:                    `[a-z\-]+`,
		`^[^|]+$`:                      `[^\|]+`,
		`(?i)^abc$`:                    ``,
		`^[[:alpha:]]+$`:               ``,
		``:                             ``,
	} {
		if got := htmlPattern(p); got != want {
			t.Errorf("htmlPattern(%q) = %q; want %q", p, got, want)
		}
	}
}

func TestControlCharacters(t *testing.T) {
	line := &input{Kind: kindText}
	text := &input{Kind: kindTextarea}
	for _, c := range []struct {
		in   *input
		v    any
		want string
	}{
		{line, "Ada Lovelace", ""},
		{line, "Zoë O'Brien-Łukasz 李", ""},
		{line, "a < b and c > d", ""},
		{line, "<b>bold</b>", "must not contain HTML tags such as <script>"},
		{line, "<!-- x -->", "must not contain HTML tags such as <script>"},
		{line, "tab\there", "must not contain control characters (found U+0009)"},
		{line, "two\nlines", "must be a single line"},
		{text, "tab\there\nnew line\r\n", ""},
		{text, "<script>alert(1)</script>", ""},
		{text, "bell\a", "must not contain control characters (found U+0007)"},
		{text, "zero\u200bwidth ok, bom \ufeff not", "must not contain control characters (found U+FEFF)"},
		{line, "\u0085", "must not contain control characters (found U+0085)"},
		{line, string([]byte{0xff, 0xfe}), "contains bytes that are not valid UTF-8 text"},
		{line, []any{"ok", "bad\x00"}, "must not contain control characters (found U+0000)"},
	} {
		if got := checkStrings(c.in, c.v); got != c.want {
			t.Errorf("checkStrings(%s, %q) = %q; want %q", c.in.Kind, c.v, got, c.want)
		}
	}
}
