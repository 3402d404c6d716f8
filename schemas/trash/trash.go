// Package trash lists, restores and purges deleted CRM records. Package hooks copies every
// record deleted through PocketBase into the relata_trash collection, in the delete's
// transaction; this package serves it:
//
//	GET  /api/relata/trash               → {"items": [...]} what the caller may see, newest first
//	POST /api/relata/trash/{id}/restore  → {"object", "id"} the record back, with its old id
//
// Who sees and restores an entry: whoever could view the record when it was deleted, by the
// object's access policy (schemas.Rules) applied to the stored copy: admins and managers
// always; a sales user when the object's scope is "all", when they owned the record, or (scope
// "team") when its owner is in their team. Entries are purged after [Retention] by a daily
// cron job.
package trash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
)

// Collection is the trash's collection (written by package hooks).
const Collection = "relata_trash"

// Retention is how long a deleted record can be restored.
const Retention = 30 * 24 * time.Hour

// Config configures the trash's routes and purge job.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// PurgeSchedule is when entries older than Retention are purged, as a cron expression in
	// UTC. Default: "45 3 * * *" (every day at 03:45).
	PurgeSchedule string
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Service serves the trash.
type Service struct {
	app core.App
	reg *schemas.Registry
	now func() time.Time
}

// Register adds the trash's routes and its daily purge.
func Register(app core.App, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("trash: Config.Registry is required")
	}
	if cfg.PurgeSchedule == "" {
		cfg.PurgeSchedule = "45 3 * * *"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{app: app, reg: cfg.Registry, now: cfg.Now}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Id: "relata.trash.routes", Func: func(se *core.ServeEvent) error {
		g := se.Router.Group("/api/relata/trash")
		g.Bind(apis.RequireAuth())
		g.GET("", s.apiList)
		g.POST("/{id}/restore", s.apiRestore)
		return se.Next()
	}})
	if err := app.Cron().Add("relata.trash.purge", cfg.PurgeSchedule, func() {
		n, err := Purge(app, s.now())
		if err != nil {
			app.Logger().Error("relata: trash purge", "error", err)
			return
		}
		if n > 0 {
			app.Logger().Info("relata: trash purged", "entries", n)
		}
	}); err != nil {
		return nil, fmt.Errorf("trash: purge schedule %q: %w", cfg.PurgeSchedule, err)
	}
	return s, nil
}

// Purge deletes the entries deleted more than Retention before now, with SQL (no copy is
// kept anywhere), and returns how many.
func Purge(app core.App, now time.Time) (int64, error) {
	cut, err := types.ParseDateTime(now.Add(-Retention))
	if err != nil {
		return 0, err
	}
	res, err := app.DB().Delete(Collection, dbx.NewExp("deleted_at < {:cut}", dbx.Params{"cut": cut.String()})).Execute()
	if err != nil {
		return 0, fmt.Errorf("trash: purge: %w", err)
	}
	return res.RowsAffected()
}

// Item is one entry of the trash as the API lists it.
type Item struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Record string `json:"record"`
	Title  string `json:"title"`
	Owner  string `json:"owner"`
	// DeletedBy is the user who deleted the record; "" when a workflow, an import or the
	// system did (DeletedByKind says which), and a superuser's id is shown to superusers only.
	DeletedBy string `json:"deletedBy"`
	// DeletedByKind is who deleted it: user, superuser, workflow, import, token or system
	// (the audit's actor kinds).
	DeletedByKind string `json:"deletedByKind"`
	DeletedAt     string `json:"deletedAt"`
	ExpiresAt     string `json:"expiresAt"`
}

// MaySee reports whether auth may see and restore the trash entry t: whether auth could view
// the record when it was deleted, by its object's access policy applied to the stored copy.
// An entry of an object that no longer exists is for admins only.
func (s *Service) MaySee(auth *core.Record, t *core.Record) bool {
	return s.maySee(auth, t.GetString("object"), t.GetString("owner"))
}

func (s *Service) maySee(auth *core.Record, object, owner string) bool {
	if auth == nil {
		return false
	}
	if auth.IsSuperuser() {
		return true
	}
	if auth.Collection().Name != schemas.UsersCollection {
		return false
	}
	role := auth.GetString("role")
	if role == schemas.RoleAdmin {
		return true
	}
	o, ok := s.reg.Object(object)
	if !ok || o == nil {
		return false
	}
	if role == schemas.RoleManager {
		return true
	}
	switch scopeOf(o) {
	case schemas.ScopeOwner:
		return owner != "" && owner == auth.Id
	case schemas.ScopeTeam:
		if owner != "" && owner == auth.Id {
			return true
		}
		team := auth.GetString("team")
		if team == "" || owner == "" {
			return false
		}
		u, err := s.app.FindRecordById(schemas.UsersCollection, owner)
		return err == nil && u.GetString("team") == team
	default:
		return true
	}
}

// scopeOf is o's access scope, "all" for an object without an owner field.
func scopeOf(o *schemas.Object) string {
	if o.OwnerField() == nil {
		return schemas.ScopeAll
	}
	return o.Access.Scope
}

// visibleWhere is the SQL condition of the entries auth may see (as maySee decides, which
// List still asks of each entry read), so that a listing reads only those: a trash holding a
// bulk delete of 100,000 records must not be read whole, copies included, on every listing.
func (s *Service) visibleWhere(auth *core.Record) dbx.Expression {
	if auth == nil || (!auth.IsSuperuser() && auth.Collection().Name != schemas.UsersCollection) {
		return dbx.NewExp("1=0")
	}
	role := auth.GetString("role")
	if auth.IsSuperuser() || role == schemas.RoleAdmin {
		return nil
	}
	var ors []dbx.Expression
	for i, o := range s.reg.Objects() {
		obj := dbx.HashExp{"object": o.Name}
		if role == schemas.RoleManager {
			ors = append(ors, obj)
			continue
		}
		switch scopeOf(o) {
		case schemas.ScopeOwner:
			ors = append(ors, dbx.And(obj, dbx.HashExp{"owner": auth.Id}))
		case schemas.ScopeTeam:
			mine := dbx.Expression(dbx.HashExp{"owner": auth.Id})
			if team := auth.GetString("team"); team != "" {
				key := fmt.Sprintf("team%d", i)
				mine = dbx.Or(mine, dbx.NewExp("[[owner]] != '' AND [[owner]] IN (SELECT [[id]] FROM {{"+schemas.UsersCollection+
					"}} WHERE [[team]] = {:"+key+"})", dbx.Params{key: team}))
			}
			ors = append(ors, dbx.And(obj, mine))
		default:
			ors = append(ors, obj)
		}
	}
	if len(ors) == 0 {
		return dbx.NewExp("1=0")
	}
	return dbx.Or(ors...)
}

// maxListed is how many entries List answers at most.
const maxListed = 500

// List returns the entries auth may see, deleted within Retention, newest first (at most
// maxListed). It reads only those entries, and not their copies of the records.
func (s *Service) List(auth *core.Record) ([]Item, error) {
	cut, _ := types.ParseDateTime(s.now().Add(-Retention))
	q := s.app.ConcurrentDB().Select("id", "object", "record", "title", "owner", "deleted_by", "deleted_by_kind", "deleted_at").From(Collection).
		Where(dbx.NewExp("[[deleted_at]] >= {:cut}", dbx.Params{"cut": cut.String()})).
		OrderBy("deleted_at DESC", "id DESC").Limit(maxListed)
	if where := s.visibleWhere(auth); where != nil {
		q.AndWhere(where)
	}
	var rows []struct {
		ID        string `db:"id"`
		Object    string `db:"object"`
		Record    string `db:"record"`
		Title     string `db:"title"`
		Owner     string `db:"owner"`
		DeletedBy string `db:"deleted_by"`
		Kind      string `db:"deleted_by_kind"`
		DeletedAt string `db:"deleted_at"`
	}
	if err := q.All(&rows); err != nil {
		return nil, fmt.Errorf("trash: list: %w", err)
	}
	items := []Item{}
	for _, r := range rows {
		if !s.maySee(auth, r.Object, r.Owner) {
			continue
		}
		at, _ := types.ParseDateTime(r.DeletedAt)
		by := r.DeletedBy
		if r.Kind != audit.KindUser && !auth.IsSuperuser() {
			by = "" // a superuser's id is no user's to look up
		}
		items = append(items, Item{ID: r.ID, Object: r.Object, Record: r.Record, Title: r.Title, Owner: r.Owner,
			DeletedBy: by, DeletedByKind: r.Kind, DeletedAt: at.String(), ExpiresAt: at.Add(Retention).String()})
	}
	return items, nil
}

// ErrNotFound is returned for an entry that does not exist, has expired, or is not the caller's
// to see (the same answer, so its existence is not revealed).
var ErrNotFound = errors.New("this deleted record is not in the trash, or you may not see it")

// ErrExists is returned when a record with the deleted record's id exists again.
var ErrExists = errors.New("a record with this id exists already")

// Restore saves the entry id's record again, with its old id and fields, as auth (who must be
// allowed to see it, and to view every record its relations name, as the REST API's link
// check demands: it fails naming the field otherwise), links it again from the records that
// linked to it (when they still exist, auth may view them and the link is free), and removes
// the entry, in one transaction. The record's create hooks run (audit, workflows on
// "record_created").
func (s *Service) Restore(auth *core.Record, id string) (*core.Record, error) {
	t, err := s.app.FindRecordById(Collection, id)
	if err != nil || !s.MaySee(auth, t) || s.now().Sub(t.GetDateTime("deleted_at").Time()) > Retention {
		return nil, ErrNotFound
	}
	col, err := s.app.FindCollectionByNameOrId(t.GetString("object"))
	if err != nil {
		return nil, fmt.Errorf("object %q no longer exists", t.GetString("object"))
	}
	if _, err := s.app.FindRecordById(col, t.GetString("record")); err == nil {
		return nil, ErrExists
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(t.GetString("data")), &data); err != nil {
		return nil, fmt.Errorf("trash entry %s: data: %w", t.Id, err)
	}
	rec := core.NewRecord(col)
	rec.Load(data)
	rec.Id = t.GetString("record")
	actor := audit.Actor{Kind: audit.KindUser, ID: auth.Id, Via: "trash restore"}
	if auth.IsSuperuser() {
		actor.Kind = audit.KindSuperuser
	}
	ctx := audit.WithActor(context.Background(), actor)
	err = s.app.RunInTransaction(func(tx core.App) error {
		// Nobody links a record they cannot view: a deal the restored activity named may
		// have gone to another rep since (the REST API's check, for a record new again).
		if err := schemas.CheckLinks(tx, rec, schemas.User(auth)); err != nil {
			return err
		}
		if err := tx.SaveWithContext(ctx, rec); err != nil {
			return err
		}
		// Link it again from the records that linked to it, still exist and the restorer may
		// view: a record of another team keeps what its team made of it since.
		var links []struct{ Collection, Record, Field string }
		_ = json.Unmarshal([]byte(t.GetString("links")), &links)
		for _, l := range links {
			other, err := tx.FindRecordById(l.Collection, l.Record)
			if err != nil {
				continue // deleted since
			}
			if ok, err := schemas.User(auth).CanView(tx, other); err != nil {
				return err
			} else if !ok {
				continue
			}
			f, ok := other.Collection().Fields.GetByName(l.Field).(*core.RelationField)
			if !ok {
				continue // the field is gone
			}
			if f.IsMultiple() {
				ids := other.GetStringSlice(l.Field)
				if slices.Contains(ids, rec.Id) {
					continue
				}
				other.Set(l.Field, append(ids, rec.Id))
			} else if other.GetString(l.Field) == "" {
				other.Set(l.Field, rec.Id)
			} else {
				continue // linked elsewhere since
			}
			if err := tx.SaveWithContext(ctx, other); err != nil {
				return fmt.Errorf("link %s %s again: %w", l.Collection, l.Record, err)
			}
		}
		_, err := tx.DB().Delete(Collection, dbx.HashExp{"id": t.Id}).Execute()
		return err
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

func (s *Service) apiList(re *core.RequestEvent) error {
	items, err := s.List(re.Auth)
	if err != nil {
		return re.InternalServerError("", err)
	}
	return re.JSON(http.StatusOK, map[string]any{"items": items, "retentionDays": int(Retention / (24 * time.Hour))})
}

func (s *Service) apiRestore(re *core.RequestEvent) error {
	rec, err := s.Restore(re.Auth, re.Request.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound):
		return re.NotFoundError(err.Error(), nil)
	case errors.Is(err, ErrExists):
		return re.Error(http.StatusConflict, err.Error(), nil)
	case err != nil:
		return re.BadRequestError("The record cannot be restored: "+err.Error(), err)
	}
	return re.JSON(http.StatusOK, map[string]any{"object": rec.Collection().Name, "id": rec.Id})
}
