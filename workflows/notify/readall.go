package notify

import (
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// ReadAll marks every unread notification of user read, at now, and reports how many it
// marked. The bell's "Mark all read" calls it through POST /api/relata/notifications/read:
// marking them one by one took a request each, and each sent a realtime event that made every
// open bell reload — a user back from holidays (or given a departing rep's records) may have
// thousands. All but the newest are marked by one statement; the newest is saved as a record,
// so its one realtime event (under the collection's rules: to her alone) tells her other
// open tabs to reload.
func ReadAll(app core.App, user string, now string) (int64, error) {
	var marked int64
	err := app.RunInTransaction(func(tx core.App) error {
		var newest []*core.Record
		if err := tx.RecordQuery(Collection).AndWhere(dbx.HashExp{"user": user, "read_at": ""}).
			OrderBy("created DESC", "id DESC").Limit(1).All(&newest); err != nil || len(newest) == 0 {
			return err
		}
		res, err := tx.DB().Update(Collection, dbx.Params{"read_at": now},
			dbx.And(dbx.HashExp{"user": user, "read_at": ""}, dbx.Not(dbx.HashExp{"id": newest[0].Id}))).Execute()
		if err != nil {
			return err
		}
		if marked, err = res.RowsAffected(); err != nil {
			return err
		}
		newest[0].Set("read_at", now)
		if err := tx.Save(newest[0]); err != nil {
			return err
		}
		marked++
		return nil
	})
	return marked, err
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
