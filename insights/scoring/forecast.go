package scoring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Forecast categories. A record's category is its forecast_category field when the object
// has that select field and it is set; otherwise it is derived from its win probability (the
// model's, else the stage's): at least [CommitAt] is commit, at least [BestCaseAt] best case,
// the rest pipeline.
const (
	CategoryCommit   = "commit"
	CategoryBestCase = "best_case"
	CategoryPipeline = "pipeline"
	CategoryOmitted  = "omitted"
	// CategoryField is the select field that sets a record's category by hand.
	CategoryField = "forecast_category"
	CommitAt      = 0.7
	BestCaseAt    = 0.4
)

// ForecastOptions choose the forecast's window.
type ForecastOptions struct {
	// Months is how many months the window spans from the current one (default 6, at most 24).
	Months int
	// Now is the moment of the forecast (default: now).
	Now time.Time
	// Pipeline picks the stage field whose pipeline it is, when the object has several
	// (default: the first stage field's).
	Pipeline string

	pageSize int // records read at once (default forecastPage; tests lower it)
}

// Amounts are sums in the base currency over a month, a rep, a team or the whole window.
type Amounts struct {
	// Count and Total are the open records expected to close and their amount.
	Count int     `json:"count"`
	Total float64 `json:"total"`
	// Stage is Total weighted by each record's stage probability; Model by the model's
	// win probability (the stage probability when no model is trained).
	Stage float64 `json:"stage"`
	Model float64 `json:"model"`
	// Commit is the amount of the records in the commit category; BestCase that of commit
	// and best case together.
	Commit   float64 `json:"commit"`
	BestCase float64 `json:"bestCase"`
	// Won is the amount already won (closed in the month, or in the window).
	Won float64 `json:"won"`
}

func (a *Amounts) add(amount, stage, model float64, category string) {
	a.Count++
	a.Total += amount
	a.Stage += amount * stage
	a.Model += amount * model
	switch category {
	case CategoryCommit:
		a.Commit += amount
		a.BestCase += amount
	case CategoryBestCase:
		a.BestCase += amount
	}
}

func (a *Amounts) round() {
	for _, v := range []*float64{&a.Total, &a.Stage, &a.Model, &a.Commit, &a.BestCase, &a.Won} {
		*v = schemas.RoundMoney(*v)
	}
}

// ForecastMonth is one month of the window ("2026-03").
type ForecastMonth struct {
	Month string `json:"month"`
	Amounts
}

// ForecastGroup is a rep (Key: the user's id) or a team (Key: the team's name; "" for
// records whose owner has no team, or that have no owner).
type ForecastGroup struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Amounts
}

// QuotaProgress is a quota against what was won in its period.
type QuotaProgress struct {
	ID       string  `json:"id"`
	User     string  `json:"user,omitempty"`
	Team     string  `json:"team,omitempty"`
	Label    string  `json:"label"`
	Period   string  `json:"period"` // "2026-12" or "2026-Q4"
	Start    string  `json:"start"`  // first day, YYYY-MM-DD
	End      string  `json:"end"`    // first day after the period
	Quota    float64 `json:"quota"`  // in the base currency
	Original float64 `json:"original"`
	Currency string  `json:"currency"` // the quota's own currency
	// Won is the amount won in the period by the rep or the team's reps; Attainment is
	// Won / Quota (absent when the quota is 0 or its currency has no rate).
	Won        float64  `json:"won"`
	Attainment *float64 `json:"attainment,omitempty"`
	// Stage and Model are the open amounts expected to close in the rest of the period,
	// weighted as in [Amounts].
	Stage float64 `json:"stage"`
	Model float64 `json:"model"`
	// Unconverted is set when the quota's currency has no rate: Quota is then 0.
	Unconverted bool `json:"unconverted,omitempty"`
}

// ForecastReport is the forecast of one object's pipeline over the records the caller may
// list, in the base currency at the rates of RatesDate.
type ForecastReport struct {
	Object    string `json:"object"`
	Pipeline  string `json:"pipeline"`
	Currency  string `json:"currency"`
	RatesDate string `json:"ratesDate"`
	// Categories is "field" when the object has a forecast_category field (records without a
	// value fall back to their probability), else "probability".
	Categories string `json:"categories"`
	// Source is "model" when a model weights the forecast (Version), else "stage".
	Source  string          `json:"source"`
	Version int             `json:"version,omitempty"`
	Months  []ForecastMonth `json:"months"`
	Reps    []ForecastGroup `json:"reps"`
	Teams   []ForecastGroup `json:"teams"`
	Total   Amounts         `json:"total"`
	Quotas  []QuotaProgress `json:"quotas"`
	// Outside counts the open records left out: no expected close, or one after the window.
	// Records expected to close before the current month count in the current month.
	Outside int `json:"outside"`
	// Unconverted counts the records left out because their currency has no exchange rate
	// (never counted 1:1; see [schemas.LoadRates]).
	Unconverted int `json:"unconverted,omitempty"`
}

// ErrNoPipeline is returned for an object without a stage field.
var ErrNoPipeline = errors.New("the object has no pipeline")

// UnknownObjectError is returned for an object the model does not define.
type UnknownObjectError struct{ Name string }

func (e *UnknownObjectError) Error() string { return fmt.Sprintf("no object named %q", e.Name) }

// UnknownPipelineError is returned for a pipeline the object does not have.
type UnknownPipelineError struct{ Object, Name string }

func (e *UnknownPipelineError) Error() string {
	return fmt.Sprintf("pipeline: %s has no pipeline %q", e.Object, e.Name)
}

func (s *Service) pipelineOf(object, pipeline string) (*schemas.Object, *schemas.Field, *schemas.Pipeline, error) {
	o, ok := s.reg.Object(object)
	if !ok {
		return nil, nil, nil, &UnknownObjectError{Name: object}
	}
	staged := false
	for _, f := range o.Fields {
		if f.Type != schemas.TypeStage {
			continue
		}
		staged = true
		for _, p := range o.StagePipelines(f) {
			if pipeline == "" && p.Name == f.Pipeline || p.Name == pipeline {
				return o, f, p, nil
			}
		}
	}
	if staged && pipeline != "" {
		return nil, nil, nil, &UnknownPipelineError{Object: o.Name, Name: pipeline}
	}
	return nil, nil, nil, ErrNoPipeline
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Forecast computes the forecast of object for c over the records c may list
// ([schemas.ListQuery]); quotas are those c may list whose period overlaps the window.
func (s *Service) Forecast(app core.App, c schemas.Caller, object string, opts ForecastOptions) (*ForecastReport, error) {
	o, sf, pipe, err := s.pipelineOf(object, opts.Pipeline)
	if err != nil {
		return nil, err
	}
	if opts.Months <= 0 {
		opts.Months = 6
	}
	opts.Months = min(opts.Months, 24)
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	start := monthStart(opts.Now)
	end := start.AddDate(0, opts.Months, 0)
	coll, err := app.FindCachedCollectionByNameOrId(o.Name)
	if err != nil {
		return nil, err
	}
	rates, err := schemas.LoadRates(app, opts.Now)
	if err != nil {
		return nil, err
	}
	out := &ForecastReport{Object: o.Name, Pipeline: pipe.Name, Currency: rates.Base, RatesDate: schemas.DateOnly(opts.Now),
		Categories: "probability", Source: "stage", Months: []ForecastMonth{}, Reps: []ForecastGroup{}, Teams: []ForecastGroup{}, Quotas: []QuotaProgress{}}
	catField := o.Field(CategoryField)
	if catField != nil && catField.Type == schemas.TypeSelect && !catField.Multiple {
		out.Categories = "field"
	} else {
		catField = nil
	}

	// The quotas of the window, and how far back won records are needed.
	quotas, err := s.quotas(app, c, rates, start, end)
	if err != nil {
		return nil, err
	}
	from := start
	for _, q := range quotas {
		if t, _ := time.Parse(time.DateOnly, q.Start); t.Before(from) {
			from = t
		}
	}

	var open, won []any
	for _, st := range pipe.Stages {
		switch {
		case st.Won:
			won = append(won, st.Name)
		case !st.IsClosed():
			open = append(open, st.Name)
		}
	}
	// The stage terms are kept off the stage index ("+" before the column): on that index
	// SQLite would read and sort every open record again for each page, where the pages'
	// keyset on the primary key reads each record once.
	stageIn := func(key string, stages []any) dbx.Expression {
		if len(stages) == 0 {
			return dbx.NewExp("0=1")
		}
		marks, params := make([]string, len(stages)), dbx.Params{}
		for i, st := range stages {
			k := fmt.Sprintf("%s%d", key, i)
			marks[i], params[k] = "{:"+k+"}", st
		}
		return dbx.NewExp("+[["+coll.Name+"."+sf.Name+"]] IN ("+strings.Join(marks, ", ")+")", params)
	}
	cond := stageIn("fcopen", open)
	if len(won) > 0 {
		wonCond := stageIn("fcwon", won)
		if f := o.Field("closed_at"); f != nil {
			wonCond = dbx.And(wonCond, dbx.NewExp("[["+coll.Name+".closed_at]] >= {:fcfrom}", dbx.Params{"fcfrom": from.Format(time.DateTime) + ".000Z"}))
		}
		cond = dbx.Or(cond, wonCond)
	}
	if pf := sf.PipelineField; pf != "" {
		// Records pick their pipeline (empty: the stage field's own): only this one's count.
		in := dbx.NewExp("[["+coll.Name+"."+pf+"]] = {:fcpipe}", dbx.Params{"fcpipe": pipe.Name})
		if pipe.Name == sf.Pipeline {
			in = dbx.Or(in, dbx.NewExp("[["+coll.Name+"."+pf+"]] = ''"), dbx.NewExp("[["+coll.Name+"."+pf+"]] IS NULL"))
		}
		cond = dbx.And(cond, in)
	}

	stored, err := Latest(app, o.Name)
	if err != nil {
		return nil, err
	}
	if stored != nil {
		out.Source, out.Version = "model", stored.Version
	}
	// The owners' names and teams, read as they turn up (and the quotas' users): as many as
	// there are owners, not records.
	people := map[string]*person{}
	ownerField := o.OwnerField()
	months := map[string]*Amounts{}
	for m := start; m.Before(end); m = m.AddDate(0, 1, 0) {
		months[m.Format("2006-01")] = &Amounts{}
	}
	reps, teams := map[string]*Amounts{}, map[string]*Amounts{}
	group := func(m map[string]*Amounts, key string) *Amounts {
		if m[key] == nil {
			m[key] = &Amounts{}
		}
		return m[key]
	}
	now := opts.Now
	page := opts.pageSize
	if page <= 0 {
		page = forecastPage
	}
	// The records are read a page at a time in the order of their ids (keyset: each page
	// starts after the last id of the one before), each page through the caller's list rule,
	// and summed as they come: memory holds one page, however many records the caller may list.
	idCol := "[[" + coll.Name + ".id]]"
	for after := ""; ; {
		q, err := schemas.ListQuery(app, coll, c)
		if err != nil {
			return nil, err
		}
		q.AndWhere(cond)
		if after != "" {
			q.AndWhere(dbx.NewExp(idCol+" > {:fcafter}", dbx.Params{"fcafter": after}))
		}
		var chunk []*core.Record
		if err := q.OrderBy(idCol + " ASC").Limit(int64(page)).All(&chunk); err != nil {
			return nil, fmt.Errorf("read %s: %w", o.Name, err)
		}
		if len(chunk) == 0 {
			break
		}
		after = chunk[len(chunk)-1].Id
		d, err := LoadRecords(app, s.reg, o.Name, chunk)
		if err != nil {
			return nil, err
		}
		if ownerField != nil {
			ids := make([]string, 0, len(chunk))
			for _, row := range chunk {
				ids = append(ids, row.GetString(ownerField.Name))
			}
			if err := readPeople(app, people, ids); err != nil {
				return nil, err
			}
		}
		for k, r := range d.Records {
			row := chunk[k]
			owner, team := "", ""
			if ownerField != nil {
				owner = row.GetString(ownerField.Name)
				if u := people[owner]; u != nil {
					team = u.team
				}
			}
			if r.Unconverted {
				out.Unconverted++
				continue
			}
			if r.Won {
				if r.ClosedAt.Before(start) || !r.ClosedAt.Before(end) {
					s.quotaWon(quotas, owner, team, r.ClosedAt, r.Amount)
					continue
				}
				months[r.ClosedAt.UTC().Format("2006-01")].Won += r.Amount
				group(reps, owner).Won += r.Amount
				group(teams, team).Won += r.Amount
				out.Total.Won += r.Amount
				s.quotaWon(quotas, owner, team, r.ClosedAt, r.Amount)
				continue
			}
			if r.Closed {
				continue
			}
			due := r.ExpectedClose
			if due.IsZero() || !due.Before(end) {
				out.Outside++
				continue
			}
			if due.Before(start) {
				due = start // overdue: expected this month
			}
			snap := r.At(now)
			ps := d.StageProb[r.Stage]
			pm := ps
			if stored != nil {
				pm = stored.Model.Predict(snap)
			}
			category := ""
			if catField != nil {
				category = row.GetString(catField.Name)
			}
			if category == "" {
				switch {
				case pm >= CommitAt:
					category = CategoryCommit
				case pm >= BestCaseAt:
					category = CategoryBestCase
				default:
					category = CategoryPipeline
				}
			}
			months[due.Format("2006-01")].add(r.Amount, ps, pm, category)
			group(reps, owner).add(r.Amount, ps, pm, category)
			group(teams, team).add(r.Amount, ps, pm, category)
			out.Total.add(r.Amount, ps, pm, category)
			for qi := range quotas {
				qp := &quotas[qi]
				if qs, qe := qp.span(); !due.Before(qs) && due.Before(qe) && qp.covers(owner, team) {
					qp.Stage += r.Amount * ps
					qp.Model += r.Amount * pm
				}
			}
		}
		if len(chunk) < page {
			break
		}
	}
	quotaUsers := make([]string, 0, len(quotas))
	for _, q := range quotas {
		quotaUsers = append(quotaUsers, q.User)
	}
	if err := readPeople(app, people, quotaUsers); err != nil {
		return nil, err
	}
	for m := start; m.Before(end); m = m.AddDate(0, 1, 0) {
		key := m.Format("2006-01")
		a := months[key]
		a.round()
		out.Months = append(out.Months, ForecastMonth{Month: key, Amounts: *a})
	}
	for id, a := range reps {
		a.round()
		label := "Unassigned"
		if u := people[id]; u != nil {
			label = u.name
			if label == "" {
				label = id
			}
		}
		out.Reps = append(out.Reps, ForecastGroup{Key: id, Label: label, Amounts: *a})
	}
	sort.Slice(out.Reps, func(i, j int) bool {
		if out.Reps[i].Total != out.Reps[j].Total {
			return out.Reps[i].Total > out.Reps[j].Total
		}
		return out.Reps[i].Label < out.Reps[j].Label
	})
	for name, a := range teams {
		a.round()
		label := name
		if label == "" {
			label = "No team"
		}
		out.Teams = append(out.Teams, ForecastGroup{Key: name, Label: label, Amounts: *a})
	}
	sort.Slice(out.Teams, func(i, j int) bool { return out.Teams[i].Label < out.Teams[j].Label })
	out.Total.round()
	for i := range quotas {
		qp := &quotas[i]
		qp.Won, qp.Stage, qp.Model = schemas.RoundMoney(qp.Won), schemas.RoundMoney(qp.Stage), schemas.RoundMoney(qp.Model)
		if qp.Quota > 0 && !qp.Unconverted {
			a := math.Round(qp.Won/qp.Quota*10000) / 10000
			qp.Attainment = &a
		}
		if u := people[qp.User]; u != nil {
			qp.Label = u.name
		} else if qp.User == "" {
			qp.Label = "Team " + qp.Team
		}
	}
	if quotas != nil {
		out.Quotas = quotas
	}
	return out, nil
}

// forecastPage is how many records [Service.Forecast] reads at once.
const forecastPage = 1000

// person is what the forecast needs of a user.
type person struct{ name, team string }

// readPeople adds to people the users of ids it does not hold yet (nil for an id that names
// no user, so it is not asked for again). It reads as the server, as the labels always were.
func readPeople(app core.App, people map[string]*person, ids []string) error {
	var missing []string
	for _, id := range ids {
		if _, known := people[id]; !known && id != "" {
			people[id] = nil
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
		Team string `db:"team"`
	}
	err := app.DB().Select("id", "name", "team").From(schemas.UsersCollection).
		Where(dbx.In("id", anys(missing)...)).All(&rows)
	if err != nil {
		return fmt.Errorf("read the owners: %w", err)
	}
	for _, r := range rows {
		people[r.ID] = &person{name: r.Name, team: r.Team}
	}
	return nil
}

func (q *QuotaProgress) span() (time.Time, time.Time) {
	s, _ := time.Parse(time.DateOnly, q.Start)
	e, _ := time.Parse(time.DateOnly, q.End)
	return s, e
}

// covers reports whether the quota is the owner's, or their team's.
func (q *QuotaProgress) covers(owner, team string) bool {
	if q.User != "" {
		return owner != "" && q.User == owner
	}
	return team != "" && q.Team == team
}

func (s *Service) quotaWon(quotas []QuotaProgress, owner, team string, at time.Time, amount float64) {
	for i := range quotas {
		qs, qe := quotas[i].span()
		if !at.Before(qs) && at.Before(qe) && quotas[i].covers(owner, team) {
			quotas[i].Won += amount
		}
	}
}

// quotas reads the quotas c may list whose period overlaps [start, end), converted to the
// base currency; quotas with neither a user nor a team are skipped.
func (s *Service) quotas(app core.App, c schemas.Caller, rates *schemas.Rates, start, end time.Time) ([]QuotaProgress, error) {
	coll, err := app.FindCachedCollectionByNameOrId(schemas.QuotasCollection)
	if err != nil {
		return nil, nil // no quotas collection: no quotas
	}
	q, err := schemas.ListQuery(app, coll, c)
	if errors.Is(err, schemas.ErrForbidden) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []*core.Record
	// A quarter starts at most 2 months before the window.
	early := start.AddDate(0, -2, 0).Format(time.DateTime) + ".000Z"
	if err := q.AndWhere(dbx.NewExp("[[quotas.start]] >= {:qfrom} AND [[quotas.start]] < {:qto}",
		dbx.Params{"qfrom": early, "qto": end.Format(time.DateTime) + ".000Z"})).OrderBy("start", "team", "user").All(&recs); err != nil {
		return nil, fmt.Errorf("read the quotas: %w", err)
	}
	var out []QuotaProgress
	for _, r := range recs {
		qs := r.GetDateTime("start").Time().UTC()
		qs = time.Date(qs.Year(), qs.Month(), qs.Day(), 0, 0, 0, 0, time.UTC)
		qp := QuotaProgress{ID: r.Id, User: r.GetString("user"), Team: strings.TrimSpace(r.GetString("team")),
			Original: r.GetFloat("amount"), Currency: r.GetString("currency"), Start: schemas.DateOnly(qs)}
		if qp.User == "" && qp.Team == "" {
			continue
		}
		var qe time.Time
		if r.GetString("period") == "quarter" {
			qe = qs.AddDate(0, 3, 0)
			qp.Period = fmt.Sprintf("%d-Q%d", qs.Year(), (int(qs.Month())-1)/3+1)
		} else {
			qe = qs.AddDate(0, 1, 0)
			qp.Period = qs.Format("2006-01")
		}
		if !qe.After(start) {
			continue
		}
		qp.End = schemas.DateOnly(qe)
		if qp.Currency == "" {
			qp.Currency = rates.Base
		}
		if v, ok := rates.Convert(qp.Original, qp.Currency); ok {
			qp.Quota = schemas.RoundMoney(v)
		} else {
			qp.Unconverted = true
		}
		out = append(out, qp)
	}
	slices.SortStableFunc(out, func(a, b QuotaProgress) int { return strings.Compare(a.Start, b.Start) })
	return out, nil
}
