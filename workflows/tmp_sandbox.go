package workflows

// TEMPORARY until workflows/sandbox lands.
type scriptRunner interface{}
