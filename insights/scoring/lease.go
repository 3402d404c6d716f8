package scoring

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// leasesTable holds one row per object being trained, by any process on the data directory
// (created by the migrations).
const leasesTable = "_relata_training_leases"

const (
	// leaseTTL is how long a training lease lasts unless renewed: a process that crashed while
	// training holds its object off this long at most.
	leaseTTL = 2 * time.Minute
	// leaseRenewal is how often a running training renews its lease.
	leaseRenewal = 30 * time.Second
)

// ErrLeaseLost is returned by [Service.TrainAndSave] when its training lease was taken over
// before the model was stored (the process stalled for longer than the lease, and another
// took the object): the model is not stored, the other training's is.
var ErrLeaseLost = errors.New("the training lease was taken over by another process: the model was not stored")

// runningError says that a training of object runs: in this process (holder ""), or in the
// process holder, whose lease runs until until unless it renews it.
type runningError struct {
	object, holder string
	until          time.Time
}

func (e *runningError) Error() string {
	if e.holder == "" {
		return fmt.Sprintf("%s: %v", e.object, ErrTrainingRunning)
	}
	return fmt.Sprintf("%s: %v (held by %s; its lease runs until %s UTC and is renewed every %s while it trains)",
		e.object, ErrTrainingRunning, e.holder, e.until.UTC().Format(time.DateTime), leaseRenewal)
}

func (e *runningError) Unwrap() error { return ErrTrainingRunning }

// lease is a training lease held by this process.
type lease struct {
	s              *Service
	object, holder string
	stop, done     chan struct{}
}

// holderPrefix names this process in the leases it takes.
var holderPrefix = func() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}()

// newHolder names one training: this process and a random part, so that two services of a
// process (or two trainings) never share a holder.
func newHolder() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return holderPrefix + " " + hex.EncodeToString(b)
}

// now is the service's clock (tests move it).
func (s *Service) now() time.Time {
	s.mu.RLock()
	clock := s.clock
	s.mu.RUnlock()
	if clock != nil {
		return clock()
	}
	return time.Now()
}

func dbTime(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// acquire takes the training lease of object in one statement of its own (no other
// transaction around it): when no process holds it, or its holder let it expire. A lease
// held by another holder is a *runningError. The returned lease is renewed until released.
func (s *Service) acquire(app core.App, object string) (*lease, error) {
	holder := newHolder()
	for range 2 { // a second time when the lease was released between the two statements
		now := s.now()
		res, err := app.NonconcurrentDB().NewQuery(`INSERT INTO ` + leasesTable + ` (object, holder, expires_at)
			VALUES ({:object}, {:holder}, {:expires})
			ON CONFLICT (object) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE ` + leasesTable + `.expires_at <= {:now}`).
			Bind(dbx.Params{"object": object, "holder": holder, "expires": dbTime(now.Add(leaseTTL)), "now": dbTime(now)}).
			Execute()
		if err != nil {
			return nil, fmt.Errorf("%s: take the training lease: %w", object, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("%s: take the training lease: %w", object, err)
		} else if n == 1 {
			l := &lease{s: s, object: object, holder: holder, stop: make(chan struct{}), done: make(chan struct{})}
			go l.keep(app)
			return l, nil
		}
		var held struct {
			Holder  string `db:"holder"`
			Expires string `db:"expires_at"`
		}
		err = app.DB().Select("holder", "expires_at").From(leasesTable).Where(dbx.HashExp{"object": object}).One(&held)
		if err == nil {
			until, _ := types.ParseDateTime(held.Expires)
			return nil, &runningError{object: object, holder: held.Holder, until: until.Time()}
		}
	}
	return nil, &runningError{object: object, holder: "another process"}
}

// renew extends the lease from now, through db (a transaction's, to store under it);
// ErrLeaseLost when another holder has taken it over.
func (l *lease) renew(app core.App) error {
	res, err := app.NonconcurrentDB().NewQuery(`UPDATE ` + leasesTable + ` SET expires_at = {:expires}
		WHERE object = {:object} AND holder = {:holder}`).
		Bind(dbx.Params{"object": l.object, "holder": l.holder, "expires": dbTime(l.s.now().Add(leaseTTL))}).
		Execute()
	if err != nil {
		return fmt.Errorf("%s: renew the training lease: %w", l.object, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: renew the training lease: %w", l.object, err)
	} else if n == 0 {
		return fmt.Errorf("%s: %w", l.object, ErrLeaseLost)
	}
	return nil
}

// keep renews the lease every leaseRenewal until release. A lease taken over is not taken
// back: the store at the end finds it lost and stores nothing.
func (l *lease) keep(app core.App) {
	defer close(l.done)
	tick := time.NewTicker(leaseRenewal)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			if err := l.renew(app); err != nil {
				app.Logger().Warn("scoring: training lease", "object", l.object, "error", err)
				if errors.Is(err, ErrLeaseLost) {
					return
				}
			}
		}
	}
}

// release stops the renewals and deletes the lease, if this holder still holds it.
func (l *lease) release(app core.App) {
	close(l.stop)
	<-l.done
	_, err := app.NonconcurrentDB().NewQuery(`DELETE FROM ` + leasesTable + ` WHERE object = {:object} AND holder = {:holder}`).
		Bind(dbx.Params{"object": l.object, "holder": l.holder}).Execute()
	if err != nil {
		// It expires by itself.
		app.Logger().Warn("scoring: release the training lease", "object", l.object, "error", err)
	}
}
