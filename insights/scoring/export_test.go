package scoring

import (
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// SetMaxQueued lowers the bound of the queue of records to score after activity writes.
func (s *Service) SetMaxQueued(n int) {
	s.queue.mu.Lock()
	s.queue.max = n
	s.queue.mu.Unlock()
}

// Queued is how many records wait to be scored after activity writes.
func (s *Service) Queued() int {
	n, _, _ := s.queued()
	return n
}

// Backtested is how many backtests the service has computed.
func (s *Service) Backtested() int64 { return s.backtested.Load() }

// HoldBacktestSlots takes every slot of the backtests computed at once, as long backtests
// would, until the returned function is called.
func (s *Service) HoldBacktestSlots() (release func()) {
	s.mu.Lock()
	s.initBacktests()
	slots := s.slots
	s.mu.Unlock()
	for range cap(slots) {
		slots <- struct{}{}
	}
	return func() {
		for range cap(slots) {
			<-slots
		}
	}
}

// Computing is how many backtests are being computed or wait for a slot.
func (s *Service) Computing() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.flights)
}

// ForecastPaged is [Service.Forecast] reading page records at a time.
func (s *Service) ForecastPaged(app core.App, c schemas.Caller, object string, opts ForecastOptions, page int) (*ForecastReport, error) {
	opts.pageSize = page
	return s.Forecast(app, c, object, opts)
}

// HoldFirstTraining makes the next training (of any object) wait, once it has begun, until
// release is called; started is closed when it has begun. Later trainings run through.
func (s *Service) HoldFirstTraining() (started <-chan struct{}, release func()) {
	begun, hold := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.mu.Lock()
	s.trainHook = func(string) {
		first := false
		once.Do(func() { first = true })
		if first {
			close(begun)
			<-hold
		}
	}
	s.mu.Unlock()
	return begun, func() { close(hold) }
}

// SetClock sets the time the service's training leases are taken and renewed at.
func (s *Service) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.clock = now
	s.mu.Unlock()
}
