package schemas

import (
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var pbID = regexp.MustCompile(`^[a-z0-9]{15}$`)

func TestOrderedIDFormatAndOrder(t *testing.T) {
	var o orderedIDs
	cases := []struct {
		name string
		ms   int64
		want string // the time part
	}{
		{"epoch", 0, "000000000"},
		{"a day in 2026", time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC).UnixMilli(), idTimePrefix(time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC).UnixMilli())},
		{"clock set back keeps the last time", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), idTimePrefix(time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC).UnixMilli())},
		{"year 5000", time.Date(5000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), idTimePrefix(time.Date(5000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())},
	}
	prev := ""
	for _, c := range cases {
		id := o.next(c.ms)
		if !pbID.MatchString(id) {
			t.Fatalf("%s: %q is not a PocketBase id", c.name, id)
		}
		if id[:idTimeChars] != c.want {
			t.Errorf("%s: time part %q, want %q", c.name, id[:idTimeChars], c.want)
		}
		if id[:idTimeChars] < prev {
			t.Errorf("%s: %q sorts before the earlier id's time %q", c.name, id, prev)
		}
		prev = id[:idTimeChars]
	}
	if len(idTimePrefix(time.Date(5188, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())) != idTimeChars {
		t.Error("the time part outgrows its width before 5188")
	}
}

// 10,001 ids in one millisecond stay unique; from 8 goroutines at once, 80,000 more.
func TestOrderedIDUnique(t *testing.T) {
	var o orderedIDs
	seen := map[string]bool{}
	for range 10001 {
		id := o.next(1764800000000)
		if seen[id] {
			t.Fatalf("%s drawn twice in one millisecond", id)
		}
		seen[id] = true
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	all := map[string]bool{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]string, 0, 10000)
			for range 10000 {
				mine = append(mine, OrderedID())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range mine {
				if all[id] {
					t.Errorf("%s drawn twice", id)
				}
				all[id] = true
			}
		}()
	}
	wg.Wait()
	if len(all) != 80000 {
		t.Fatalf("%d distinct ids of 80,000", len(all))
	}
}

func BenchmarkOrderedID(b *testing.B) {
	for b.Loop() {
		OrderedID()
	}
}

// Every character of the random part is drawn: over 36,000 parts each of the 36 characters
// appears at each of the 6 positions (a part stuck at "a", or one position never drawn,
// fails).
func TestOrderedIDRandomPartCoversAlphabet(t *testing.T) {
	var counts [6][36]int
	for range 36000 {
		r := randomIDPart()
		if len(r) != 6 {
			t.Fatalf("random part %q", r)
		}
		for i := range 6 {
			counts[i][strings.IndexByte(idAlphabet, r[i])]++
		}
	}
	for i := range 6 {
		for c, n := range counts[i] {
			if n < 700 || n > 1300 { // expected 1,000 each
				t.Errorf("position %d: %q drawn %d times of 36,000", i, idAlphabet[c], n)
			}
		}
	}
}
