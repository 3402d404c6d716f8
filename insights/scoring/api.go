package scoring

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// Result is a record's win probability with its reasons, as GET /api/relata/score/{object}/{id}
// returns it.
type Result struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	// P is the win probability (0–1).
	P float64 `json:"p"`
	// Source is "model", or "stage" when no model is trained (the stage probability).
	Source string `json:"source"`
	// Version is the model version used (0 for the stage probability).
	Version int `json:"version,omitempty"`
	// AsOf is the moment the record is scored at: now, or its close.
	AsOf    time.Time `json:"asOf"`
	Factors []Factor  `json:"factors"`
}

// ScoreRecord returns the win probability of rec: from the newest stored model of its
// object, else its stage probability. It reads as the server; callers serving a user check
// that the user may view rec first (the API does).
func (s *Service) ScoreRecord(app core.App, rec *core.Record, factors int) (*Result, error) {
	r, d, err := LoadRecord(app, s.reg, rec)
	if err != nil {
		return nil, err
	}
	at := r.ScoredAt(time.Now())
	snap := r.At(at)
	out := &Result{Object: d.Object, ID: r.ID, AsOf: at.UTC(), Factors: []Factor{}}
	stored, err := Latest(app, d.Object)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		out.P, out.Source = d.StagePredict(snap, 0.5), "stage"
		return out, nil
	}
	out.P, out.Factors = stored.Model.Explain(snap, factors)
	out.Source, out.Version = "model", stored.Version
	return out, nil
}

func (s *Service) routes(se *core.ServeEvent) {
	g := se.Router.Group("/api/relata/score")
	g.Bind(apis.RequireAuth(), &hook.Handler[*core.RequestEvent]{Id: "relata.scoring.users", Func: func(re *core.RequestEvent) error {
		if re.HasSuperuserAuth() || re.Auth.Collection().Name == schemas.UsersCollection {
			return re.Next()
		}
		return re.ForbiddenError("Only CRM users can read scores.", nil)
	}})
	g.GET("/{object}/{id}", s.apiScore)
}

// apiScore answers as whoever may view the record (its view rule), and 404 to anyone else.
func (s *Service) apiScore(re *core.RequestEvent) error {
	obj, ok := s.reg.Object(re.Request.PathValue("object"))
	if !ok || obj.StageField() == nil {
		return re.NotFoundError("Unknown object, or one without a pipeline.", nil)
	}
	rec, err := re.App.FindRecordById(obj.Name, re.Request.PathValue("id"))
	if err != nil {
		return re.NotFoundError("", nil)
	}
	info, err := re.RequestInfo()
	if err != nil {
		return re.BadRequestError("", err)
	}
	if ok, err := schemas.Request(info).CanView(re.App, rec); err != nil || !ok {
		return re.NotFoundError("", nil)
	}
	score, err := s.ScoreRecord(re.App, rec, 5)
	if err != nil {
		return err
	}
	return re.JSON(http.StatusOK, score)
}
