package workflows

// ListensForm reports whether an enabled workflow on object starts when the form slug is
// submitted: the form hook (package hooks) reads the submitted record and queues runs only
// then, so a form no workflow listens to costs one map walk, not a read and a worker wake-up.
func (e *Engine) ListensForm(slug, object string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, w := range e.byName {
		if w.Def.Trigger.Type == TriggerFormSubmitted && w.Def.Trigger.Form == slug && w.Object.Name == object {
			return true
		}
	}
	return false
}
