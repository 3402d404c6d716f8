package campaigns

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// PendingQuery is the queue's read of pending recipients, for the query-plan test.
func PendingQuery(app core.App, campaign string, limit int) *dbx.Query {
	return pendingQuery(app, campaign, limit).Build()
}
