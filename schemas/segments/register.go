package segments

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	// contacts that entered and left its stored membership, up to [EvaluateBatch] at a time,
	// in the transaction that stores those changes: an error rolls them back (the next
	// evaluation finds them again). The workflow engine's
	// SegmentChanged queues its "entered segment" and "left segment" runs here.
	OnChange func(tx core.App, segmentID string, changes []Change) error
	// Timeout bounds each count made for a request or a save — the builder's live count, a
	// segment's count, the check of a dynamic segment's filter when it is saved — so that a
	// filter joining relations upon relations is refused (400 on the filter) instead of
	// holding a core for minutes. Default: 5s.
	Timeout time.Duration
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
	app.OnRecordEnrich(Collection).Bind(&hook.Handler[*core.RecordEnrichEvent]{Id: "relata.segments.hide-owner-count", Func: hideOwnerCount})
	schemas.RestrictField(app, schemas.RestrictedField{Collection: Collection, Field: ownerCount, May: marketer,
		Message: "the segment owner's count, for managers and admins; count a segment as you see it with GET /api/relata/segments/{id}/count"})
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
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
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
		ctx, cancel := withTimeout(e.Context, s.cfg.Timeout)
		defer cancel()
		if err := check(ctx, e.App, c, seg.GetString("filter")); err != nil {
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

// ownerCount is the field that holds the owner's count of a segment's members: a manager's
// segment counts contacts of every team, so only those who may list every contact (managers,
// admins, superusers: the marketing rule) read, filter or sort by it — the filter guard
// refuses it to the others on lists, realtime subscriptions and through relations
// (campaigns' segment.member_count), see [schemas.RestrictField].
const ownerCount = "member_count"

// marketer reports whether c is a manager, an admin or a superuser (or the system).
func marketer(c schemas.Caller) bool {
	if c.IsSystem() || c.IsSuperuser() {
		return true
	}
	u := c.Auth()
	if u == nil || u.Collection().Name != schemas.UsersCollection {
		return false
	}
	role := u.GetString("role")
	return role == schemas.RoleAdmin || role == schemas.RoleManager
}

// hideOwnerCount leaves the owner's count out of segments served to anyone else (REST views
// and lists, realtime events).
func hideOwnerCount(e *core.RecordEnrichEvent) error {
	if !marketer(schemas.Request(e.RequestInfo)) {
		e.Record.Hide(ownerCount)
	}
	return e.Next()
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
	var rows []struct {
		RecordID  string `db:"record_id"`
		EnteredAt string `db:"entered_at"`
	}
	if err := s.app.DB().Select("record_id", "entered_at").From(MembersCollection).
		Where(dbx.HashExp{"segment": seg.Id, "source": SourceEvaluated}).All(&rows); err != nil {
		return err
	}
	var changes []Change
	now2 := map[string]bool{}
	for _, id := range ids {
		now2[id] = true
	}
	old := map[string]bool{}
	for _, r := range rows {
		old[r.RecordID] = true
		if !now2[r.RecordID] {
			t, _ := types.ParseDateTime(r.EnteredAt)
			changes = append(changes, Change{RecordID: r.RecordID, EnteredAt: t.Time(), Left: true})
		}
	}
	entered, _ := types.ParseDateTime(now)
	for _, id := range ids {
		if !old[id] {
			changes = append(changes, Change{RecordID: id, EnteredAt: entered.Time()})
		}
	}
	// The changes are stored EvaluateBatch at a time, each batch in its own transaction with
	// its OnChange, a few hundred rows per statement: one transaction for a segment of 100,000
	// held the writer for seconds, every Interval. A batch that fails is rolled back alone;
	// the next evaluation finds its changes again (the stored membership is what was committed).
	for part := range slices.Chunk(changes, EvaluateBatch) {
		err := s.app.RunInTransaction(func(tx core.App) error {
			var gone []any
			var insert [][]any
			for _, ch := range part {
				if ch.Left {
					gone = append(gone, ch.RecordID)
				} else {
					insert = append(insert, []any{core.GenerateDefaultRandomId(), seg.Id, ch.RecordID, SourceEvaluated, now, now})
				}
			}
			for del := range slices.Chunk(gone, schemas.InsertMaxParams) {
				if _, err := tx.DB().Delete(MembersCollection, dbx.And(dbx.HashExp{"segment": seg.Id, "source": SourceEvaluated},
					dbx.In("record_id", del...))).Execute(); err != nil {
					return err
				}
			}
			if err := schemas.InsertMany(tx, MembersCollection, memberColumns, insert); err != nil {
				return err
			}
			if s.cfg.OnChange != nil {
				return s.cfg.OnChange(tx, seg.Id, part)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	_, err = s.app.DB().Update(Collection, dbx.Params{"member_count": len(ids), "counted_at": now}, dbx.HashExp{"id": seg.Id}).Execute()
	return err
}

// EvaluateBatch is how many membership changes (contacts entering or leaving a segment) one
// write transaction of [Service.Evaluate] stores, with one call of Config.OnChange.
const EvaluateBatch = 1000

// memberColumns are the columns of a membership row, in the order rows are inserted.
var memberColumns = []string{"id", "segment", "record_id", "source", "entered_at", "created"}

// Add adds contacts to a static segment as c (who must be allowed to view each of them);
// contacts already in it stay as they are. It returns how many were added. Contacts are
// checked first, then added a few hundred per statement and transaction (an error leaves
// those added before it: adding the same list again adds the rest).
func Add(app core.App, c schemas.Caller, seg *core.Record, ids []string, source string) (int, error) {
	if seg.GetString("kind") != Static {
		return 0, fmt.Errorf("%w: %q is dynamic: change its filter instead", ErrInvalid, seg.GetString("name"))
	}
	var uniq []any
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	for part := range slices.Chunk(uniq, schemas.InsertMaxParams) {
		var found []string
		if err := app.DB().Select("id").From(Object).Where(dbx.In("id", part...)).Column(&found); err != nil {
			return 0, err
		}
		viewable, err := c.ViewableIDs(app, Object, found)
		if err != nil {
			return 0, err
		}
		for _, id := range part {
			if !viewable[id.(string)] {
				return 0, fmt.Errorf("%w: no contact %q", schemas.ErrForbidden, id)
			}
		}
	}
	added := 0
	now := types.NowDateTime().String()
	for part := range slices.Chunk(uniq, schemas.InsertMaxParams) {
		// a transaction per few hundred contacts: the writer is not held for the whole list
		err := app.RunInTransaction(func(tx core.App) error {
			var have []string
			if err := tx.DB().Select("record_id").From(MembersCollection).
				Where(dbx.And(dbx.HashExp{"segment": seg.Id}, dbx.In("record_id", part...))).Column(&have); err != nil {
				return err
			}
			in := make(map[string]bool, len(have))
			for _, id := range have {
				in[id] = true
			}
			var insert [][]any
			for _, id := range part {
				if !in[id.(string)] {
					insert = append(insert, []any{core.GenerateDefaultRandomId(), seg.Id, id, source, now, now})
				}
			}
			if err := schemas.InsertMany(tx, MembersCollection, memberColumns, insert); err != nil {
				return err
			}
			added += len(insert)
			return nil
		})
		if err != nil {
			return added, err
		}
	}
	return added, nil
}

// AddByEmail adds to a static segment the contacts c may list whose email is one of addrs
// (an import of addresses), and returns how many were added and the addresses no contact
// has. Addresses are looked up a few hundred per query, each a seek in the index of
// lower-cased addresses ([schemas.AddressExpr]).
func AddByEmail(app core.App, c schemas.Caller, seg *core.Record, addrs []string) (int, []string, error) {
	if seg.GetString("kind") != Static {
		return 0, nil, fmt.Errorf("%w: %q is dynamic: change its filter instead", ErrInvalid, seg.GetString("name"))
	}
	coll, err := app.FindCachedCollectionByNameOrId(Object)
	if err != nil {
		return 0, nil, err
	}
	var want []string
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" && !seen[a] {
			seen[a] = true
			want = append(want, a)
		}
	}
	var ids, missing []string
	for part := range slices.Chunk(want, schemas.InsertMaxParams) {
		q, err := schemas.ListQuery(app, coll, c)
		if err != nil {
			return 0, nil, err
		}
		p := dbx.Params{}
		marks := make([]string, len(part))
		for i, a := range part {
			marks[i] = fmt.Sprintf("{:a%d}", i)
			p[fmt.Sprintf("a%d", i)] = a
		}
		var rows []struct {
			ID    string `db:"id"`
			Email string `db:"email"`
		}
		if err := q.Select("{{"+Object+"}}.[[id]] AS id", schemas.AddressExpr("{{"+Object+"}}.[[email]]")+" AS email").
			AndWhere(dbx.NewExp(schemas.AddressExpr("{{"+Object+"}}.[[email]]")+" IN ("+strings.Join(marks, ", ")+")", p)).All(&rows); err != nil {
			return 0, nil, err
		}
		found := map[string]bool{}
		for _, r := range rows {
			found[r.Email] = true
			ids = append(ids, r.ID)
		}
		for _, a := range part {
			if !found[a] {
				missing = append(missing, a)
			}
		}
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
	ctx, cancel := withTimeout(re.Request.Context(), s.cfg.Timeout)
	defer cancel()
	n, err := countDefinition(ctx, s.app, c, body.Filter, conds)
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
	ctx, cancel := withTimeout(re.Request.Context(), s.cfg.Timeout)
	defer cancel()
	n, err := countSegment(ctx, s.app, c, seg)
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
