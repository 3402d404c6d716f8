package schemas

import "sync"

// UserSlots bounds how many of one kind of heavy request each user runs at once in a server
// (imports and exports, duplicate scans): each takes a slot while it runs. The zero value with
// Max set is ready to use.
type UserSlots struct {
	// Max is how many slots each user has.
	Max int

	mu sync.Mutex
	n  map[string]int // slots taken, by user id
}

// Take takes one of user's slots, or reports false when all Max are taken; release gives it
// back (once, however often it is called).
func (s *UserSlots) Take(user string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[user] >= s.Max {
		return nil, false
	}
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.n[user]--; s.n[user] <= 0 {
				delete(s.n, user)
			}
		})
	}, true
}
