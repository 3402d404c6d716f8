package audit

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Prepared reports whether the journal's insert is prepared on app's pool of writes (the
// first transaction that journals on a pool prepares it once it has ended).
func Prepared(app core.App) bool {
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return false
	}
	_, ok = prepared.Load(db.DB())
	return ok
}
