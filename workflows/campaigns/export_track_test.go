package campaigns

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// RecentEventQuery is the tracking's check for a repeated open or click, for the query-plan test.
func RecentEventQuery(app core.App, contact, recipient, kind, target, since string) *dbx.Query {
	return recentEventQuery(app, contact, recipient, kind, target, since)
}
