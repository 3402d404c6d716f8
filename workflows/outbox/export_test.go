package outbox

// ClaimQuery is the sender's claim statement, for the query-plan test; ClaimSelect the ids it
// claims, for the backlog benchmark.
const (
	ClaimQuery  = claimQuery
	ClaimSelect = claimSelect
)
