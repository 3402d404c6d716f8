package scoring

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// MaxBulkIDs caps the ids of one bulk scoring request (a board asks per column page, a list
// per page).
const MaxBulkIDs = 200

// Result is a record's win probability with its reasons, as GET /api/relata/score/{object}/{id}
// returns it.
type Result struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	// P is the win probability (0–1).
	P float64 `json:"p"`
	// StageP is the probability of the stage the record is in (0–1), as the pipeline defines it.
	StageP float64 `json:"stageP"`
	// Source is "model", or "stage" when no model is trained (the stage probability).
	Source string `json:"source"`
	// Kind is "win" for a pipeline's records, "conversion" for leads.
	Kind string `json:"kind"`
	// Version is the model version used (0 for the stage probability); TrainedAt when it
	// was trained and AUC its area under the ROC curve on the newest 30 % of the closed
	// records when it was trained.
	Version   int        `json:"version,omitempty"`
	TrainedAt *time.Time `json:"trainedAt,omitempty"`
	AUC       *float64   `json:"auc,omitempty"`
	// AsOf is the moment the record is scored at: now, or its close (Closed).
	AsOf    time.Time `json:"asOf"`
	Closed  bool      `json:"closed,omitempty"`
	Factors []Factor  `json:"factors"`
}

// ScoreRecord returns the win probability of rec: from the newest stored model of its
// object, else its stage probability. It reads as the server; callers serving a user check
// that the user may view rec first (the API does).
func (s *Service) ScoreRecord(app core.App, rec *core.Record, factors int) (*Result, error) {
	out, err := s.ScoreRecords(app, rec.Collection().Name, []*core.Record{rec}, factors)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ScoreRecords is [Service.ScoreRecord] for several records of object at once: their
// histories are read together and the model once. Results are in the order of recs.
func (s *Service) ScoreRecords(app core.App, object string, recs []*core.Record, factors int) ([]*Result, error) {
	return s.ScoreRecordsIn(app, object, recs, factors, "en")
}

// ScoreRecordsIn is [Service.ScoreRecords] with the factors in words of lang (see
// [schemas.Languages]).
func (s *Service) ScoreRecordsIn(app core.App, object string, recs []*core.Record, factors int, lang string) ([]*Result, error) {
	return s.scoreRecords(app, object, recs, factors, lang, nil)
}

// scoreRecords is [Service.ScoreRecordsIn]; with as, the factors say only what as may see.
// The probability is the server's, from every activity of the record; but a record may have
// activities as may not open (a manager's call on a rep's contact, the calls of its former
// owner in another team), and words such as "2 calls in total" or "last touch 3 days ago"
// would tell that they exist, their kind and when. Such a record's factors are explained
// from the activities as may open.
func (s *Service) scoreRecords(app core.App, object string, recs []*core.Record, factors int, lang string, as *schemas.Caller) ([]*Result, error) {
	d, err := LoadRecords(app, s.reg, object, recs)
	if err != nil {
		return nil, err
	}
	stored, err := Latest(app, d.Object)
	if err != nil {
		return nil, err
	}
	var seen map[string][]Activity // the activities as may open, of the records where they differ
	if as != nil && !as.IsSuperuser() && stored != nil && len(d.Records) > 0 {
		if seen, err = s.listedActivities(app, d, as); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	out := make([]*Result, 0, len(d.Records))
	for _, r := range d.Records {
		at := r.ScoredAt(now)
		snap := r.At(at)
		res := &Result{Object: d.Object, ID: r.ID, AsOf: at.UTC(), Closed: r.Closed, Factors: []Factor{}}
		res.StageP = d.StageProb[r.Stage]
		res.Kind = "win"
		if d.Lead {
			res.Kind = "conversion"
		}
		if stored == nil {
			res.P, res.Source = d.StagePredict(snap, 0.5), "stage"
			out = append(out, res)
			continue
		}
		res.P, res.Factors = stored.Model.ExplainIn(snap, factors, lang)
		if acts, ok := seen[r.ID]; ok {
			listed := *r
			listed.Activities = acts
			_, res.Factors = stored.Model.ExplainIn(listed.At(at), factors, lang)
		}
		res.Source, res.Version = "model", stored.Version
		trained := stored.TrainedAt.UTC()
		res.TrainedAt = &trained
		if stored.Metrics != nil && stored.Metrics.Model.AUC > 0 {
			auc := stored.Metrics.Model.AUC
			res.AUC = &auc
		}
		out = append(out, res)
	}
	return out, nil
}

// listedActivities returns, for each record of d with an activity as may not open, the
// activities as may open (as the model reads them).
func (s *Service) listedActivities(app core.App, d *Data, as *schemas.Caller) (map[string][]Activity, error) {
	ids := make([]string, len(d.Records))
	byID := make(map[string]*Record, len(d.Records))
	for i, r := range d.Records {
		ids[i] = r.ID
		byID[r.ID] = &Record{ID: r.ID}
	}
	if err := loadActivities(app, s.reg, d.Object, ids, byID, false, as); err != nil {
		return nil, err
	}
	out := map[string][]Activity{}
	for _, r := range d.Records {
		if listed := byID[r.ID].Activities; len(listed) != len(r.Activities) {
			out[r.ID] = listed
		}
	}
	return out, nil
}

// hideUnseen drops the factors that name a value of a record c may not view: the
// "company.industry" of a deal's company when c may not view that company. The probability
// itself still counts them (the model reads as the server), but the words reveal nothing.
func (s *Service) hideUnseen(app core.App, c schemas.Caller, rec *core.Record, res *Result, seen map[string]bool) {
	kept := res.Factors[:0]
	for _, f := range res.Factors {
		// Categorical features are "field=value"; those of a related record "relation.field=value".
		key, _, isCat := strings.Cut(f.Feature, "=")
		rel, _, ok := strings.Cut(key, ".")
		if !isCat || !ok || key == "stage" {
			kept = append(kept, f)
			continue
		}
		field := rec.Collection().Fields.GetByName(rel)
		rf, isRel := field.(*core.RelationField)
		id := rec.GetString(rel)
		if !isRel || id == "" {
			continue
		}
		ref := rf.CollectionId + "/" + id
		ok, known := seen[ref]
		if !known {
			if related, err := app.FindRecordById(rf.CollectionId, id); err == nil {
				ok, _ = c.CanView(app, related)
			}
			seen[ref] = ok
		}
		if ok {
			kept = append(kept, f)
		}
	}
	res.Factors = kept
}

func (s *Service) routes(se *core.ServeEvent) {
	g := se.Router.Group("/api/relata/score")
	g.Bind(apis.RequireAuth(), &hook.Handler[*core.RequestEvent]{Id: "relata.scoring.users", Func: crmUsers})
	g.GET("/{object}", s.apiScoreMany)
	g.GET("/{object}/{id}", s.apiScore)
	g.GET("/{object}/{id}/rules", s.apiRuleScores)
	g.POST("/{object}/train", s.apiTrain)

	f := se.Router.Group("/api/relata/forecast")
	f.Bind(apis.RequireAuth(), &hook.Handler[*core.RequestEvent]{Id: "relata.scoring.forecast-users", Func: crmUsers})
	f.GET("/{object}", s.apiForecast)
	f.GET("/{object}/backtest", s.apiBacktest)
}

// crmUsers lets CRM users and superusers through.
func crmUsers(re *core.RequestEvent) error {
	if re.HasSuperuserAuth() || re.Auth.Collection().Name == schemas.UsersCollection {
		return re.Next()
	}
	return re.ForbiddenError("Only CRM users can read scores and forecasts.", nil)
}

// apiTrain retrains the model of an object now (admins only) and answers with its figures;
// 409 while a training of the object runs, in any process (see [Service.TrainAndSave]).
func (s *Service) apiTrain(re *core.RequestEvent) error {
	if !re.HasSuperuserAuth() && re.Auth.GetString("role") != schemas.RoleAdmin {
		return re.ForbiddenError("Only admins can retrain models.", nil)
	}
	obj, ok := s.reg.Object(re.Request.PathValue("object"))
	if !ok || !Scorable(obj) {
		return re.NotFoundError("Unknown object, or one without a pipeline or lifecycle.", nil)
	}
	rep, v, err := s.TrainAndSave(re.App, obj.Name)
	if errors.Is(err, ErrTrainingRunning) || errors.Is(err, ErrLeaseLost) {
		// Not a second training beside the first (twice the CPU, two versions of the same
		// records), in this process or another on the data directory: the one running stores
		// the model this request asked for.
		return re.Error(http.StatusConflict, "A training of "+obj.Name+" is already running: its model will be the next version. Try again when it has ended.", nil)
	}
	if err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	rep.Predictions = nil
	return re.JSON(http.StatusOK, map[string]any{"version": v, "report": rep})
}

func intParam(re *core.RequestEvent, name string, def, lo, hi int) (int, error) {
	v := re.Request.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, re.BadRequestError(fmt.Sprintf("%s: a whole number from %d to %d.", name, lo, hi), nil)
	}
	return n, nil
}

// apiForecast answers GET /api/relata/forecast/{object}?months=N[&pipeline=P] over the records
// the caller may list.
func (s *Service) apiForecast(re *core.RequestEvent) error {
	months, err := intParam(re, "months", 6, 1, 24)
	if err != nil {
		return err
	}
	info, err := re.RequestInfo()
	if err != nil {
		return re.BadRequestError("", err)
	}
	out, err := s.Forecast(re.App, schemas.Request(info), re.Request.PathValue("object"), ForecastOptions{Months: months, Pipeline: re.Request.URL.Query().Get("pipeline")})
	return s.answer(re, out, err)
}

// apiBacktest answers GET /api/relata/forecast/{object}/backtest?months=N: the backtest of
// the stage-weighted and the model-weighted forecast over the records the caller may list.
func (s *Service) apiBacktest(re *core.RequestEvent) error {
	months, err := intParam(re, "months", 12, 1, 24)
	if err != nil {
		return err
	}
	info, err := re.RequestInfo()
	if err != nil {
		return re.BadRequestError("", err)
	}
	out, err := s.BacktestForContext(re.Request.Context(), re.App, schemas.Request(info), re.Request.PathValue("object"), months)
	switch {
	case errors.Is(err, ErrBacktestBusy):
		return re.Error(http.StatusTooManyRequests, "Too many at once: "+ErrBacktestBusy.Error()+".", nil)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return re.Error(http.StatusServiceUnavailable, "The backtest was not computed: the request ended first.", nil)
	}
	return s.answer(re, out, err)
}

func (s *Service) answer(re *core.RequestEvent, out any, err error) error {
	var unknown *UnknownObjectError
	var pipeline *UnknownPipelineError
	switch {
	case errors.As(err, &pipeline):
		return re.BadRequestError(pipeline.Error(), nil)
	case errors.As(err, &unknown), errors.Is(err, ErrNoPipeline):
		return re.NotFoundError("Unknown object, or one without a pipeline.", nil)
	case errors.Is(err, schemas.ErrForbidden):
		return re.ForbiddenError("You may not read these records.", nil)
	case err != nil:
		return re.InternalServerError("", err)
	}
	return re.JSON(http.StatusOK, out)
}

// apiScore answers as whoever may view the record (its view rule), and 404 to anyone else.
func (s *Service) apiScore(re *core.RequestEvent) error {
	obj, ok := s.reg.Object(re.Request.PathValue("object"))
	if !ok || !Scorable(obj) {
		return re.NotFoundError("Unknown object, or one without a pipeline or lifecycle.", nil)
	}
	rec, c, err := viewed(re, obj)
	if err != nil {
		return err
	}
	scores, err := s.scoreRecords(re.App, obj.Name, []*core.Record{rec}, 5, schemas.RequestLanguage(re), &c)
	if err != nil {
		return err
	}
	score := scores[0]
	s.hideUnseen(re.App, c, rec, score, map[string]bool{})
	return re.JSON(http.StatusOK, score)
}

// apiScoreMany scores the records named by ?ids=a,b,c (at most [MaxBulkIDs]) that the caller
// may view; the others are left out of the answer, as if they did not exist.
// ?factors=N (0–10, default 3) sets how many factors each carries.
func (s *Service) apiScoreMany(re *core.RequestEvent) error {
	obj, ok := s.reg.Object(re.Request.PathValue("object"))
	if !ok || !Scorable(obj) {
		return re.NotFoundError("Unknown object, or one without a pipeline or lifecycle.", nil)
	}
	q := re.Request.URL.Query()
	var ids []string
	for _, id := range strings.Split(q.Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) > MaxBulkIDs {
		return re.BadRequestError("ids: at most 200 ids per request.", nil)
	}
	factors := 3
	if v := q.Get("factors"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			return re.BadRequestError("factors: a whole number from 0 to 10.", nil)
		}
		factors = n
	}
	info, err := re.RequestInfo()
	if err != nil {
		return re.BadRequestError("", err)
	}
	c := schemas.Request(info)
	var visible []*core.Record
	if len(ids) > 0 {
		recs, err := re.App.FindRecordsByIds(obj.Name, ids)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if ok, err := c.CanView(re.App, rec); err == nil && ok {
				visible = append(visible, rec)
			}
		}
	}
	scores, err := s.scoreRecords(re.App, obj.Name, visible, factors, schemas.RequestLanguage(re), &c)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	out := make(map[string]*Result, len(scores))
	for i, res := range scores {
		s.hideUnseen(re.App, c, visible[i], res, seen)
		out[res.ID] = res
	}
	return re.JSON(http.StatusOK, map[string]any{"scores": out})
}

// apiRuleScores answers GET /api/relata/score/{object}/{id}/rules: the record's rule-based
// scores ({"scores": [...]}, empty when no definition scores the object) with the rules that
// make them, to whoever may view the record (its view rule), and 404 to anyone else.
func (s *Service) apiRuleScores(re *core.RequestEvent) error {
	obj, ok := s.reg.Object(re.Request.PathValue("object"))
	if !ok {
		return re.NotFoundError("Unknown object.", nil)
	}
	rec, c, err := viewed(re, obj)
	if err != nil {
		return err
	}
	scores, err := s.ExplainRulesAs(re.App, c, obj, rec, schemas.RequestLanguage(re))
	if err != nil {
		return re.InternalServerError("", err)
	}
	return re.JSON(http.StatusOK, map[string]any{"scores": scores})
}

// viewed finds the record of obj named by the path's {id} for a caller who may view it (its
// view rule), with the caller; anyone else gets the 404 of a record that is not there.
func viewed(re *core.RequestEvent, obj *schemas.Object) (*core.Record, schemas.Caller, error) {
	rec, err := re.App.FindRecordById(obj.Name, re.Request.PathValue("id"))
	if err != nil {
		return nil, schemas.Caller{}, re.NotFoundError("", nil)
	}
	info, err := re.RequestInfo()
	if err != nil {
		return nil, schemas.Caller{}, re.BadRequestError("", err)
	}
	c := schemas.Request(info)
	if ok, err := c.CanView(re.App, rec); err != nil || !ok {
		return nil, schemas.Caller{}, re.NotFoundError("", nil)
	}
	return rec, c, nil
}
