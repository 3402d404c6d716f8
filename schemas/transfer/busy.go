package transfer

import (
	"fmt"
	"net/http"

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

// acquire takes one of user's slots ([MaxBusyPerUser]), or fails with ErrBusy; release gives
// it back (once). A nil user (a superuser, the command line) takes none.
func (s *Service) acquire(user *core.Record) (release func(), err error) {
	if user == nil || user.IsSuperuser() {
		return func() {}, nil
	}
	release, ok := s.busy.Take(user.Id)
	if !ok {
		return nil, ErrBusy
	}
	return release, nil
}

// busyError answers ErrBusy with 429 Too Many Requests.
func busyError(e *core.RequestEvent) error {
	return e.Error(http.StatusTooManyRequests, "Too many at once: "+ErrBusy.Error()+".", nil)
}
