package scoring

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
