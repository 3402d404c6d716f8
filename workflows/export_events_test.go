package workflows

// FanOut exposes fanOut: the tests that claim runs without Drain write the runs of stored
// workflow events first, as the engine's event loop does.
func (e *Engine) FanOut() (int, error) { return e.fanOut() }
