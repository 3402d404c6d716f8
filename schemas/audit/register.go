package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// Config configures the audit trail's routes and commands.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
}

// Service serves the audit trail.
type Service struct {
	app core.App
	cfg Config
}

// Register adds the audit endpoints and, if rootCmd is set, the "audit" command:
//
//	GET /api/relata/audit/{object}/{id}   the history of one record, for whoever may view it
//	GET /api/relata/audit                  the whole trail with filters, for admins
//
// The entries themselves are appended by package hooks.
func Register(app core.App, rootCmd *cobra.Command, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("audit: Config.Registry is required")
	}
	s := &Service{app: app, cfg: cfg}
	StartChainer(app)
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Id: "relata.audit.routes", Func: func(se *core.ServeEvent) error {
		g := se.Router.Group("/api/relata/audit")
		g.Bind(apis.RequireAuth())
		g.GET("", s.apiTrail)
		g.GET("/{object}/{id}", s.apiHistory)
		return se.Next()
	}})
	// The dashboard must not drop or reshape the trail's collection either.
	keep := func(e *core.CollectionRequestEvent) error {
		if e.Collection.Name == Collection {
			return e.BadRequestError("The audit trail's collection cannot be changed or deleted.", nil)
		}
		return e.Next()
	}
	app.OnCollectionDeleteRequest().BindFunc(keep)
	app.OnCollectionUpdateRequest().BindFunc(keep)
	if rootCmd != nil {
		rootCmd.AddCommand(s.newCommand())
	}
	return s, nil
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, rootCmd *cobra.Command, cfg Config) *Service {
	s, err := Register(app, rootCmd, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// history is an answer of the audit endpoints.
type history struct {
	Items []*Entry `json:"items"`
	// Next is the value of "before" for the next (older) page; 0 when there is none.
	Next int64 `json:"next"`
}

func page(items []*Entry, limit int) history {
	h := history{Items: items}
	if h.Items == nil {
		h.Items = []*Entry{}
	}
	if len(items) == limit && limit > 0 {
		h.Next = items[len(items)-1].Seq
	}
	return h
}

func privileged(re *core.RequestEvent) bool {
	if re.HasSuperuserAuth() {
		return true
	}
	role := re.Auth.GetString("role")
	return re.Auth.Collection().Name == schemas.UsersCollection && (role == schemas.RoleAdmin || role == schemas.RoleManager)
}

// apiHistory answers the history of one record to whoever may view the record through the
// REST API; the history of a deleted record only to managers and admins.
func (s *Service) apiHistory(re *core.RequestEvent) error {
	object, id := re.Request.PathValue("object"), re.Request.PathValue("id")
	if _, ok := s.cfg.Registry.Object(object); !ok && object != schemas.UsersCollection {
		return re.NotFoundError("Unknown object.", nil)
	}
	rec, err := s.app.FindRecordById(object, id)
	switch {
	case err == nil:
		info, _ := re.RequestInfo()
		ok, err := schemas.Request(info).CanView(s.app, rec)
		if err != nil || !ok {
			return re.NotFoundError("", nil)
		}
	case !privileged(re):
		return re.NotFoundError("", nil)
	}
	q, err := query(re)
	if err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	q.Object, q.Record, q.ActorID = object, id, ""
	items, err := Find(s.app, q)
	if err != nil {
		return err
	}
	info, _ := re.RequestInfo()
	if err := redact(s.app, items, schemas.Request(info)); err != nil {
		return err
	}
	return re.JSON(http.StatusOK, page(items, q.Limit))
}

// apiTrail answers the whole trail, filtered, to admins and superusers.
func (s *Service) apiTrail(re *core.RequestEvent) error {
	if !re.HasSuperuserAuth() && re.Auth.GetString("role") != schemas.RoleAdmin {
		return re.ForbiddenError("Only admins read the audit trail.", nil)
	}
	q, err := query(re)
	if err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	items, err := Find(s.app, q)
	if err != nil {
		return err
	}
	info, _ := re.RequestInfo()
	if err := redact(s.app, items, schemas.Request(info)); err != nil {
		return err
	}
	return re.JSON(http.StatusOK, page(items, q.Limit))
}

// redact blanks in entries what c may not read on their records now, as the REST API hides it
// ([schemas.Visible]): the values of fields that are hidden now (an entry written before its
// field was hidden holds them), and an auth record's email unless [schemas.Caller.MayReadEmail]
// allows it — a superuser, the user themself, or a user whose email is visible now. A deleted
// user's email is shown to superusers only: there is no emailVisibility left to ask. The
// change stays listed, Redacted, as entries of hidden fields are written.
func redact(app core.App, entries []*Entry, c schemas.Caller) error {
	if c.IsSuperuser() {
		return nil
	}
	users := map[string][]string{} // auth collection → ids of records with an email change
	for _, e := range entries {
		coll, err := app.FindCachedCollectionByNameOrId(e.Object)
		if err != nil {
			continue // an object since removed: nothing is hidden by a definition that is gone
		}
		for _, f := range coll.Fields {
			if ch, ok := e.Changes[f.GetName()]; ok && f.GetHidden() && !ch.Redacted {
				e.Changes[f.GetName()] = Change{Redacted: true}
			}
		}
		if _, ok := e.Changes[core.FieldNameEmail]; ok && coll.IsAuth() {
			users[coll.Name] = append(users[coll.Name], e.Record)
		}
	}
	for coll, ids := range users {
		recs, err := app.FindRecordsByIds(coll, ids)
		if err != nil {
			return fmt.Errorf("audit: read the %s whose email changes are listed: %w", coll, err)
		}
		readable := map[string]bool{}
		for _, r := range recs {
			readable[r.Id] = c.MayReadEmail(r)
		}
		for _, e := range entries {
			if e.Object == coll && !readable[e.Record] {
				if _, ok := e.Changes[core.FieldNameEmail]; ok {
					e.Changes[core.FieldNameEmail] = Change{Redacted: true}
				}
			}
		}
	}
	return nil
}

// query reads the filters of a request: object, record, user, field, from, to (RFC 3339 or
// YYYY-MM-DD), before and limit.
func query(re *core.RequestEvent) (Query, error) {
	v := re.Request.URL.Query()
	q := Query{Object: v.Get("object"), Record: v.Get("record"), ActorID: v.Get("user"), Field: v.Get("field"), Limit: 50}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		s := v.Get(name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, s); err != nil {
				return q, fmt.Errorf("%s: %q is not a date (YYYY-MM-DD or RFC 3339)", name, s)
			}
		}
		*dst = t
	}
	for name, dst := range map[string]*int64{"before": &q.Before} {
		if s := v.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return q, fmt.Errorf("%s: %q is not a positive number", name, s)
			}
			*dst = n
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return q, fmt.Errorf("limit: %q is not a number from 1 to 500", s)
		}
		q.Limit = n
	}
	return q, nil
}

func (s *Service) newCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and read the audit trail"}
	var asJSON bool
	var head string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit trail's hash chain and report every changed or removed entry",
		Long: `Recompute the audit trail's hash chain and report every changed or removed entry.

Entries removed from the end leave no gap in the chain: keep the head this command prints
(sequence:hash) somewhere else and pass it with --head next time.`,
		Example:      "  relata audit verify\n  relata audit verify --head 1042:9f86d08…",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.app.RunAllMigrations(); err != nil {
				return fmt.Errorf("run migrations: %w", err)
			}
			r, err := Verify(s.app)
			if err != nil {
				return err
			}
			if head != "" {
				checkHead(s.app, r, head)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				for _, p := range r.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), p)
				}
				fmt.Fprintf(out, "%d entries, head %d:%s\n", r.Entries, r.HeadSeq, r.HeadHash)
			}
			if !r.OK() {
				return fmt.Errorf("the audit trail fails verification: %d %s", len(r.Problems), plural(len(r.Problems), "problem", "problems"))
			}
			if !asJSON {
				fmt.Fprintln(out, "the audit trail is intact")
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	verify.Flags().StringVar(&head, "head", "", "a head printed earlier (SEQ:HASH) that must still be in the trail")
	cmd.AddCommand(verify)
	return cmd
}

// checkHead adds a problem when the entry head names is missing or differs.
func checkHead(app core.App, r *Report, head string) {
	seqStr, hash, ok := strings.Cut(head, ":")
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if !ok || err != nil {
		r.Problems = append(r.Problems, Problem{Reason: fmt.Sprintf("--head %q is not SEQ:HASH", head)})
		return
	}
	var got struct {
		Hash string `db:"hash"`
	}
	if err := app.DB().Select("hash").From(Collection).AndWhere(dbx.HashExp{"seq": seq}).One(&got); err != nil {
		r.Problems = append(r.Problems, Problem{Seq: seq, Reason: "the head given with --head is gone: entries were removed from the end"})
		return
	}
	if got.Hash != hash {
		r.Problems = append(r.Problems, Problem{Seq: seq, Reason: "differs from the head given with --head"})
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
