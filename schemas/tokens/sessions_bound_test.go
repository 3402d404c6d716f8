package tokens

import (
	"fmt"
	"testing"
	"time"
)

// TestSessionsBound fills the cache past maxSessions: entries past SessionTTL go first,
// and a cache still more than three quarters full of tokens used within the TTL starts
// empty. A read that began
// before an emptying does not store.
func TestSessionsBound(t *testing.T) {
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	put := func(s *sessions, token string, at time.Time) {
		s.put(token, session{at: at, exp: at.Add(time.Hour)}, s.gen)
	}
	for _, c := range []struct {
		name      string
		staleOnes int           // entries read at start
		freshAt   time.Duration // when the others were read
		wantLen   int           // entries after one more put at start+freshAt
	}{
		{"half stale", maxSessions / 2, SessionTTL, maxSessions - maxSessions/2 + 1},
		{"all stale", maxSessions, 2 * SessionTTL, 1},
		{"none stale", 0, SessionTTL / 2, 1},
		{"one stale", 1, SessionTTL, 1},
		{"a quarter stale", maxSessions / 4, SessionTTL, maxSessions - maxSessions/4 + 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSessions()
			for i := range maxSessions {
				at := start.Add(c.freshAt)
				if i < c.staleOnes {
					at = start
				}
				put(s, fmt.Sprint("t", i), at)
			}
			if len(s.m) != maxSessions {
				t.Fatalf("filled to %d entries, want %d", len(s.m), maxSessions)
			}
			put(s, "new", start.Add(c.freshAt))
			if len(s.m) != c.wantLen {
				t.Fatalf("%d entries after the put past the bound, want %d", len(s.m), c.wantLen)
			}
			if _, ok := s.m["new"]; !ok {
				t.Fatal("the new token was not stored")
			}
			for i := c.staleOnes; i < maxSessions && c.wantLen > 1; i++ {
				if _, ok := s.m[fmt.Sprint("t", i)]; !ok {
					t.Fatalf("fresh token t%d was dropped", i)
				}
			}
		})
	}

	s := newSessions()
	gen := s.gen
	s.reset()
	s.put("late", session{at: start, exp: start.Add(time.Hour)}, gen)
	if len(s.m) != 0 {
		t.Fatal("a read from before an emptying was stored")
	}
}
