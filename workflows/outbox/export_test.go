package outbox

// ClaimQuery is the sender's claim statement, for the query-plan test; ClaimSelect the ids it
// claims, for the backlog benchmark.
var (
	ClaimQuery  = claimQuery
	ClaimSelect = claimSelect
)
