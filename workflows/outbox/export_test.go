package outbox

// ClaimQuery is the sender's claim statement, for the query-plan test; ClaimSelect the ids it
// claims, for the backlog benchmark.
var (
	ClaimQuery  = claimQuery
	ClaimSelect = claimSelect
)

// SuppressedReason is the sender's check of one marketing email, without the batch's
// preloaded checks.
func (s *Sender) SuppressedReason(m Message) (string, error) { return s.suppressedReason(s.app, m) }
