package notify

import (
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// ReadAll marks every unread notification of user read, at now, in one statement, and
// reports how many it marked. The bell's "Mark all read" calls it through
// POST /api/relata/notifications/read: marking them one by one took a request each, and a
// user back from holidays (or given a departing rep's records) may have thousands.
func ReadAll(app core.App, user string, now string) (int64, error) {
	res, err := app.DB().Update(Collection, dbx.Params{"read_at": now}, dbx.HashExp{"user": user, "read_at": ""}).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// routes adds POST /api/relata/notifications/read: a CRM user marks her own notifications
// read (only her own: the statement names her). The answer is {"read": N}.
func (n *Notifier) routes(se *core.ServeEvent) {
	se.Router.POST("/api/relata/notifications/read", func(e *core.RequestEvent) error {
		marked, err := ReadAll(e.App, e.Auth.Id, dbTime(n.cfg.Now()))
		if err != nil {
			return e.InternalServerError("", err)
		}
		return e.JSON(http.StatusOK, map[string]any{"read": marked})
	}).Bind(apis.RequireAuth(schemas.UsersCollection))
}
