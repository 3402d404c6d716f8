package inbox

import "testing"

func TestAligned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		domain, from string
		want         bool
	}{
		{"example.com", "example.com", true},
		{"EXAMPLE.com.", "example.com", true},
		{"mail.example.com", "example.com", true},
		{"example.com", "sales.example.com", true},
		{"example.com", "example.org", false},
		{"evil.com", "example.com", false},
		{"co.uk", "example.co.uk", false},                 // a public suffix is no organization
		{"a.github.io", "b.github.io", false},             // nor is a private one (the PSL's private section)
		{"xn--bcher-kva.example", "bücher.example", true}, // the A-label a signature names, the U-label a From shows
		{"", "example.com", false},
		{"exa mple.com", "exa mple.com", false},
	} {
		if got := aligned(tc.domain, tc.from); got != tc.want {
			t.Errorf("aligned(%q, %q) = %v; want %v", tc.domain, tc.from, got, tc.want)
		}
	}
}
