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
