package outbox

// ClaimQuery is the sender's claim statement, for the query-plan test.
const ClaimQuery = claimQuery
