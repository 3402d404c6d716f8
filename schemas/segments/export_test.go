package segments

// Members is members, for the plan test.
var Members = members
