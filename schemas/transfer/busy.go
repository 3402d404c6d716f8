package transfer

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/pocketbase/pocketbase/core"
)

// MaxBusyPerUser bounds the heavy requests one user runs at once in a server: imports (the
// synchronous API and the wizard's jobs), exports, and bulk and reassignment jobs. Each may
// read a 200 MB file or a whole object; without a bound one user (careless, or hostile) could
// start fifty side by side and take the server's memory, disk and writer from everyone else.
// Superusers and the command line are not bounded.
const MaxBusyPerUser = 3

// ErrBusy is the answer to a user who already runs MaxBusyPerUser heavy requests.
var ErrBusy = fmt.Errorf("you already have %d imports, exports or bulk jobs running: wait for one to end (or cancel it)", MaxBusyPerUser)

// busy counts each user's heavy requests in progress.
type busy struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire takes one of user's slots, or fails with ErrBusy; release gives it back (once).
// A nil user (a superuser, the command line) takes none.
func (s *Service) acquire(user *core.Record) (release func(), err error) {
	if user == nil || user.IsSuperuser() {
		return func() {}, nil
	}
	b := &s.busy
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		b.n = map[string]int{}
	}
	if b.n[user.Id] >= MaxBusyPerUser {
		return nil, ErrBusy
	}
	b.n[user.Id]++
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.n[user.Id]--; b.n[user.Id] <= 0 {
				delete(b.n, user.Id)
			}
		})
	}, nil
}

// busyError answers ErrBusy with 429 Too Many Requests.
func busyError(e *core.RequestEvent) error {
	return e.Error(http.StatusTooManyRequests, "Too many at once: "+ErrBusy.Error()+".", nil)
}
