package segments

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// Config configures segments.
type Config struct {
	// Interval is how often the members of every dynamic segment are evaluated and stored
	// (segment_members). Default: 15m; negative: never (tests call [Service.Evaluate]).
	Interval time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// OnChange, when set, is called by every evaluation of a dynamic segment with the
	// contacts that entered and left its stored membership, in the transaction that stores
	// the change: an error rolls the evaluation back. The workflow engine's
	// SegmentChanged queues its "entered segment" and "left segment" runs here.
	OnChange func(tx core.App, segmentID string, changes []Change) error
}

// Change is one contact entering or leaving a segment's stored membership. EnteredAt is when
// it entered (for a contact that left, when the membership that ended began): a contact and
// EnteredAt name one stay in the segment.
type Change struct {
	RecordID  string
	EnteredAt time.Time
	Left      bool
}

// Service evaluates segments for one app. Build it with [Register].
type Service struct {
	app core.App
	cfg Config
}

// Register adds segments to app: a segment's filter is checked for its owner when saved;
// the routes POST /api/relata/segments/count, GET /api/relata/segments/{id}/count and
// POST /api/relata/segments/{id}/members are served; dynamic segments are evaluated every
// Interval while the server runs.
func Register(app core.App, cfg Config) (*Service, error) {
	s := New(app, cfg)
	cfg = s.cfg
	app.OnRecordCreate(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.segments.check-create", Func: s.checkSegment})
	app.OnRecordUpdate(Collection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.segments.check-update", Func: s.checkSegment})
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.segments.routes",
		Func: func(se *core.ServeEvent) error {
			s.routes(se)
			if cfg.Interval > 0 {
				every := max(int(cfg.Interval/time.Minute), 1)
				app.Cron().MustAdd("relata.segments.evaluate", fmt.Sprintf("*/%d * * * *", every), func() {
					if err := s.Evaluate(); err != nil {
						app.Logger().Error("relata: evaluate segments", "error", err)
					}
				})
			}
			return se.Next()
		},
	})
	return s, nil
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, cfg Config) *Service {
	s, err := Register(app, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// New returns a service for app without binding hooks or routes (for Go callers and tests).
func New(app core.App, cfg Config) *Service {
	if cfg.Interval == 0 {
		cfg.Interval = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{app: app, cfg: cfg}
}

// checkSegment refuses a dynamic segment whose filter its owner could not evaluate, and a
// static segment with a filter.
func (s *Service) checkSegment(e *core.RecordEvent) error {
	seg := e.Record
	switch seg.GetString("kind") {
	case Dynamic:
		raw, _ := seg.GetRaw("engagement").(types.JSONRaw)
		conds, err := ParseEngagement(raw)
		if err != nil {
			return badField("engagement", err.Error())
		}
		if strings.TrimSpace(seg.GetString("filter")) == "" && len(conds) == 0 {
			return badField("filter", "A dynamic segment needs a filter or an engagement condition.")
		}
		c, err := Owner(e.App, seg)
		if err != nil {
			return badField("owner", err.Error())
		}
		if err := CheckEngagement(e.App, c, conds); err != nil {
			return badField("engagement", err.Error())
		}
		if err := Check(e.App, c, seg.GetString("filter")); err != nil {
			return badField("filter", "The filter cannot be evaluated: "+err.Error())
		}
	case Static:
		if seg.GetString("filter") != "" {
			return badField("filter", "A static segment has members, not a filter.")
		}
		if raw, _ := seg.GetRaw("engagement").(types.JSONRaw); len(raw) > 0 && string(raw) != "null" && string(raw) != "[]" {
			return badField("engagement", "A static segment has members, not engagement conditions.")
		}
	}
	return e.Next()
}

func badField(field, msg string) error {
	return apis.NewBadRequestError(msg, map[string]any{field: map[string]string{"code": "invalid", "message": msg}})
}

// Evaluate stores the members of every dynamic segment as its owner sees them: contacts
// that entered are added with the time (entered_at), those that left are removed, and the
// count is kept on the segment. A segment that cannot be evaluated is logged and skipped.
func (s *Service) Evaluate() error {
	segs, err := s.app.FindRecordsByFilter(Collection, "kind = {:k}", "", 0, 0, dbx.Params{"k": Dynamic})
	if err != nil {
		return err
	}
	var errs []error
	for _, seg := range segs {
		if err := s.evaluate(seg); err != nil {
			errs = append(errs, fmt.Errorf("segment %q: %w", seg.GetString("name"), err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) evaluate(seg *core.Record) error {
	c, err := Owner(s.app, seg)
	if err != nil {
		return err
	}
	ids, err := IDs(s.app, c, seg)
	if err != nil {
		return err
	}
	at := s.cfg.Now().UTC()
	now := at.Format(types.DefaultDateLayout)
	return s.app.RunInTransaction(func(tx core.App) error {
		var rows []struct {
			RecordID  string `db:"record_id"`
			EnteredAt string `db:"entered_at"`
		}
		if err := tx.DB().Select("record_id", "entered_at").From(MembersCollection).
			Where(dbx.HashExp{"segment": seg.Id, "source": SourceEvaluated}).All(&rows); err != nil {
			return err
		}
		var changes []Change
		had := make([]string, len(rows))
		enteredAt := make(map[string]string, len(rows))
		for i, r := range rows {
			had[i] = r.RecordID
			enteredAt[r.RecordID] = r.EnteredAt
		}
		now2 := map[string]bool{}
		for _, id := range ids {
			now2[id] = true
		}
		old := map[string]bool{}
		for _, id := range had {
			old[id] = true
			if !now2[id] {
				t, _ := types.ParseDateTime(enteredAt[id])
				changes = append(changes, Change{RecordID: id, EnteredAt: t.Time(), Left: true})
				if _, err := tx.DB().Delete(MembersCollection, dbx.HashExp{"segment": seg.Id, "record_id": id, "source": SourceEvaluated}).Execute(); err != nil {
					return err
				}
			}
		}
		coll, err := tx.FindCachedCollectionByNameOrId(MembersCollection)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if old[id] {
				continue
			}
			m := core.NewRecord(coll)
			m.Set("segment", seg.Id)
			m.Set("record_id", id)
			m.Set("source", SourceEvaluated)
			m.Set("entered_at", now)
			if err := tx.SaveNoValidate(m); err != nil {
				return err
			}
			changes = append(changes, Change{RecordID: id, EnteredAt: m.GetDateTime("entered_at").Time()})
		}
		if _, err := tx.DB().Update(Collection, dbx.Params{"member_count": len(ids), "counted_at": now}, dbx.HashExp{"id": seg.Id}).Execute(); err != nil {
			return err
		}
		if s.cfg.OnChange != nil && len(changes) > 0 {
			return s.cfg.OnChange(tx, seg.Id, changes)
		}
		return nil
	})
}

// Add adds contacts to a static segment as c (who must be allowed to view each of them);
// contacts already in it stay as they are. It returns how many were added.
func Add(app core.App, c schemas.Caller, seg *core.Record, ids []string, source string) (int, error) {
	if seg.GetString("kind") != Static {
		return 0, fmt.Errorf("%w: %q is dynamic: change its filter instead", ErrInvalid, seg.GetString("name"))
	}
	coll, err := app.FindCachedCollectionByNameOrId(MembersCollection)
	if err != nil {
		return 0, err
	}
	added := 0
	err = app.RunInTransaction(func(tx core.App) error {
		for _, id := range ids {
			rec, err := tx.FindRecordById(Object, id)
			if err != nil {
				return fmt.Errorf("%w: no contact %q", schemas.ErrForbidden, id)
			}
			if ok, err := c.CanView(tx, rec); err != nil || !ok {
				return fmt.Errorf("%w: no contact %q", schemas.ErrForbidden, id)
			}
			var n int
			if err := tx.DB().Select("count(*)").From(MembersCollection).
				Where(dbx.HashExp{"segment": seg.Id, "record_id": id}).Row(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			m := core.NewRecord(coll)
			m.Set("segment", seg.Id)
			m.Set("record_id", id)
			m.Set("source", source)
			m.Set("entered_at", time.Now().UTC())
			if err := tx.Save(m); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	return added, err
}

// AddByEmail adds to a static segment the contacts c may list whose email is one of addrs
// (an import of addresses), and returns how many were added and the addresses no contact
// has.
func AddByEmail(app core.App, c schemas.Caller, seg *core.Record, addrs []string) (int, []string, error) {
	coll, err := app.FindCachedCollectionByNameOrId(Object)
	if err != nil {
		return 0, nil, err
	}
	var ids, missing []string
	for _, a := range addrs {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			continue
		}
		q, err := schemas.ListQuery(app, coll, c)
		if err != nil {
			return 0, nil, err
		}
		var found []string
		if err := q.Select("{{" + Object + "}}.[[id]]").AndWhere(dbx.NewExp("lower({{"+Object+"}}.[[email]]) = {:a}", dbx.Params{"a": a})).Column(&found); err != nil {
			return 0, nil, err
		}
		if len(found) == 0 {
			missing = append(missing, a)
		}
		ids = append(ids, found...)
	}
	n, err := Add(app, c, seg, ids, SourceImport)
	return n, missing, err
}

func (s *Service) routes(se *core.ServeEvent) {
	g := se.Router.Group("/api/relata/segments")
	g.Bind(apis.RequireAuth(), &hook.Handler[*core.RequestEvent]{Id: "relata.segments.users", Func: requireUser})
	g.POST("/count", s.apiCountFilter)
	g.GET("/{id}/count", s.apiCount)
	g.POST("/{id}/members", s.apiAdd)
}

func requireUser(re *core.RequestEvent) error {
	if re.HasSuperuserAuth() || re.Auth.Collection().Name == schemas.UsersCollection {
		return re.Next()
	}
	return re.ForbiddenError("Only CRM users work with segments.", nil)
}

func caller(re *core.RequestEvent) (schemas.Caller, error) {
	info, err := re.RequestInfo()
	if err != nil {
		return schemas.Caller{}, err
	}
	return schemas.Request(info), nil
}

func accessError(re *core.RequestEvent, err error) error {
	var ae *schemas.AccessError
	if errors.As(err, &ae) || errors.Is(err, ErrInvalid) || errors.Is(err, schemas.ErrForbidden) {
		return re.BadRequestError(err.Error(), nil)
	}
	return err
}

// apiCountFilter counts the contacts a filter matches for the caller: the builder's live count.
func (s *Service) apiCountFilter(re *core.RequestEvent) error {
	var body struct {
		Filter     string          `json:"filter"`
		Engagement json.RawMessage `json:"engagement"`
	}
	if err := re.BindBody(&body); err != nil {
		return re.BadRequestError("The body must be JSON: {\"filter\": \"…\", \"engagement\": […]}.", nil)
	}
	c, err := caller(re)
	if err != nil {
		return err
	}
	conds, err := ParseEngagement(body.Engagement)
	if err != nil {
		return accessError(re, err)
	}
	n, err := CountDefinition(s.app, c, body.Filter, conds)
	if err != nil {
		return accessError(re, err)
	}
	return re.JSON(http.StatusOK, map[string]any{"count": n})
}

// apiCount counts a segment's members as the caller sees them.
func (s *Service) apiCount(re *core.RequestEvent) error {
	c, err := caller(re)
	if err != nil {
		return err
	}
	seg, err := s.app.FindRecordById(Collection, re.Request.PathValue("id"))
	if err != nil {
		return re.NotFoundError("No such segment.", nil)
	}
	if ok, err := c.CanView(s.app, seg); err != nil || !ok {
		return re.NotFoundError("No such segment.", nil)
	}
	n, err := Count(s.app, c, seg)
	if err != nil {
		return accessError(re, err)
	}
	return re.JSON(http.StatusOK, map[string]any{"count": n, "kind": seg.GetString("kind")})
}

// apiAdd adds contacts (ids, from a list selection) or addresses (emails, an import) to a
// static segment. Managers and admins only.
func (s *Service) apiAdd(re *core.RequestEvent) error {
	if !re.HasSuperuserAuth() {
		if role := re.Auth.GetString("role"); role != schemas.RoleAdmin && role != schemas.RoleManager {
			return re.ForbiddenError("Only admins and managers change segments.", nil)
		}
	}
	var body struct {
		IDs    []string `json:"ids"`
		Emails []string `json:"emails"`
	}
	if err := re.BindBody(&body); err != nil {
		return re.BadRequestError("The body must be JSON: {\"ids\": [...]} or {\"emails\": [...]}.", nil)
	}
	if len(body.IDs)+len(body.Emails) > 10000 {
		return re.BadRequestError("At most 10,000 contacts at once.", nil)
	}
	c, err := caller(re)
	if err != nil {
		return err
	}
	seg, err := s.app.FindRecordById(Collection, re.Request.PathValue("id"))
	if err != nil {
		return re.NotFoundError("No such segment.", nil)
	}
	added, err := Add(s.app, c, seg, body.IDs, SourceManual)
	if err != nil {
		return accessError(re, err)
	}
	var missing []string
	if len(body.Emails) > 0 {
		n, miss, err := AddByEmail(s.app, c, seg, body.Emails)
		if err != nil {
			return accessError(re, err)
		}
		added += n
		missing = miss
	}
	return re.JSON(http.StatusOK, map[string]any{"added": added, "unknown": missing})
}
