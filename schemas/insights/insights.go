package insights

import (
	"database/sql"
	"fmt"

	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// StageChangesCollection is where Relata's record hooks keep the stage history.
const StageChangesCollection = "stage_changes"

// Query names what a report is about. Only Object is required; the rest default from the
// object model.
type Query struct {
	Object string `json:"object"`
	// Pipeline defaults to the pipeline of Field, or of the object's first stage field.
	Pipeline string `json:"pipeline"`
	// Field is the stage field; default: the first stage field of Pipeline.
	Field string `json:"field"`
	// Amount is the value summed; default: the first currency field, else the first number
	// field; without one, totals are 0 and only counts are reported.
	Amount string `json:"amount"`
	// Date is the forecast's close date; default: "expected_close", else the first date field.
	Date string `json:"date"`
	// By is the field the sources report groups by; default: "source", else the first select.
	By string `json:"by"`
	// Closed is when a record was closed; default: "closed_at" when the object has it. Records
	// without it use the time they entered their won stage.
	Closed string `json:"closed"`
	// At is the date ("2026-12-01") whose exchange rates convert amounts to the base
	// currency; default: today (UTC).
	At string `json:"at"`
	// Owner, when set, keeps only the records of this user (the object's owner field).
	Owner string `json:"owner"`
	// Team, when set, keeps only the records whose owner is in this team.
	Team string `json:"team"`
}

// QueryError is a report asked for something the object model does not have.
type QueryError struct{ Message string }

func (e *QueryError) Error() string { return e.Message }

func badQuery(format string, args ...any) error {
	return &QueryError{Message: fmt.Sprintf(format, args...)}
}

// report is a Query resolved against the object model.
type report struct {
	obj      *schemas.Object
	coll     *core.Collection
	stage    *schemas.Field
	pipeline *schemas.Pipeline
	amount   string // "" when the object has no amount
	date     string
	by       string
	closed   string
	scope    scope
	// currency is the SQL of a record's currency ("" for plain numbers); rates convert it.
	currency string
	rates    *schemas.Rates
	missing  map[string]bool
	// unlisted are the currencies without a rate beyond the first MaxUnratedCurrencies.
	unlisted map[string]bool
}

func (s *Service) resolve(q Query, info *core.RequestInfo) (*report, error) {
	obj, ok := s.reg.Object(q.Object)
	if !ok {
		if q.Object == "" {
			return nil, badQuery("object: required (one of %s)", strings.Join(s.reg.ObjectNames(), ", "))
		}
		return nil, badQuery("object: no object named %q", q.Object)
	}
	coll, err := s.app.FindCachedCollectionByNameOrId(obj.Name)
	if err != nil {
		return nil, badQuery("object: %q has no collection", q.Object)
	}
	r := &report{obj: obj, coll: coll}
	// Hidden fields do not exist for users (as in the REST API): no report reads, sums, groups
	// or filters by one, or its sums and groups would tell the values.
	hidden := hiddenFor(coll, schemas.Request(info))
	stageHidden := func(f *schemas.Field) bool {
		return hidden(f.Name) || (f.PipelineField != "" && hidden(f.PipelineField))
	}
	for _, f := range obj.Fields {
		if f.Type != schemas.TypeStage || stageHidden(f) {
			continue
		}
		if q.Field != "" && q.Field != f.Name {
			continue
		}
		if q.Pipeline == "" {
			r.stage, r.pipeline = f, obj.Pipeline(f.Pipeline)
			break
		}
		if i := slices.IndexFunc(obj.StagePipelines(f), func(p *schemas.Pipeline) bool { return p.Name == q.Pipeline }); i >= 0 {
			r.stage, r.pipeline = f, obj.StagePipelines(f)[i]
			break
		}
	}
	if r.stage == nil {
		switch f := obj.Field(q.Field); {
		case q.Field != "" && (f == nil || f.Type != schemas.TypeStage || stageHidden(f)):
			return nil, badQuery("field: %s has no stage field %q", obj.Name, q.Field)
		case q.Pipeline != "" && q.Field != "":
			return nil, badQuery("pipeline: %s.%s has no pipeline %q", obj.Name, q.Field, q.Pipeline)
		case q.Pipeline != "":
			return nil, badQuery("pipeline: %s has no pipeline %q", obj.Name, q.Pipeline)
		}
		return nil, badQuery("object: %s has no stage field", obj.Name)
	}
	if r.pipeline == nil {
		return nil, badQuery("field: the pipeline %q of %s.%s is not defined", r.stage.Pipeline, obj.Name, r.stage.Name)
	}
	// a currency amount comes with its currency code, which must be readable too
	amountHidden := func(name string) bool { return hidden(name) || hidden(name+schemas.CurrencySuffix) }
	if r.amount, err = pickField(obj, amountHidden, "amount", q.Amount, "", schemas.TypeCurrency, schemas.TypeNumber); err != nil {
		return nil, err
	}
	if r.date, err = pickField(obj, hidden, "date", q.Date, "expected_close", schemas.TypeDate, schemas.TypeDateTime); err != nil {
		return nil, err
	}
	if r.by, err = pickField(obj, hidden, "by", q.By, "source", schemas.TypeSelect, schemas.TypeText); err != nil {
		return nil, err
	}
	if f := obj.Field(r.by); f != nil && f.Multiple {
		return nil, badQuery("by: %s.%s holds several values; group by a single-value field", obj.Name, r.by)
	}
	if q.Closed != "" || (obj.Field("closed_at") != nil && !hidden("closed_at")) {
		if r.closed, err = pickField(obj, hidden, "closed", q.Closed, "closed_at", schemas.TypeDate, schemas.TypeDateTime); err != nil {
			return nil, err
		}
	}
	if r.scope, err = s.scopeOf(coll, info); err != nil {
		return nil, err
	}
	var conds []string
	params := dbx.Params{}
	if pf := r.stage.PipelineField; pf != "" {
		// Records pick their pipeline: count only those in this one (empty is the field's own).
		params["insightsPipeline"] = r.pipeline.Name
		cond := "[[" + pf + "]] = {:insightsPipeline}"
		if r.pipeline.Name == r.stage.Pipeline {
			cond = "(" + cond + " OR [[" + pf + "]] = '' OR [[" + pf + "]] IS NULL)"
		}
		conds = append(conds, cond)
	}
	if q.Owner != "" || q.Team != "" {
		of := obj.OwnerField()
		if of == nil || hidden(of.Name) {
			param := "owner"
			if q.Owner == "" {
				param = "team"
			}
			return nil, badQuery("%s: %s has no owner field to filter by owner or team", param, obj.Name)
		}
		if q.Owner != "" {
			params["insightsOwner"] = q.Owner
			conds = append(conds, "[["+of.Name+"]] = {:insightsOwner}")
		}
		if q.Team != "" {
			params["insightsTeam"] = q.Team
			conds = append(conds, "[["+of.Name+"]] IN (SELECT [[id]] FROM {{"+schemas.UsersCollection+"}} WHERE [[team]] = {:insightsTeam})")
		}
	}
	if len(conds) > 0 {
		if r.scope.params == nil {
			r.scope.params = dbx.Params{}
		}
		for k, v := range params {
			r.scope.params[k] = v
		}
		r.scope.pipe = "SELECT [[id]] FROM {{" + obj.Name + "}} WHERE " + strings.Join(conds, " AND ")
	}
	at := time.Now()
	if q.At != "" {
		if at, err = time.Parse(time.DateOnly, q.At); err != nil {
			return nil, badQuery("at: %q is not a date (YYYY-MM-DD)", q.At)
		}
	}
	if r.rates, err = schemas.LoadRates(s.app, at); err != nil {
		return nil, err
	}
	r.currency, r.missing, r.unlisted = "''", map[string]bool{}, map[string]bool{}
	if f := obj.Field(r.amount); f != nil && f.Type == schemas.TypeCurrency {
		// A record without a currency code is in the field's default currency, else the base.
		def := f.Currency
		if !currencyCode.MatchString(def) {
			def = r.rates.Base
		}
		r.currency = "COALESCE(NULLIF([[" + r.amount + schemas.CurrencySuffix + "]], ''), '" + def + "')"
	}
	return r, nil
}

var currencyCode = regexp.MustCompile(schemas.CurrencyPattern)

// hiddenFor returns whether a field of coll is hidden from c: PocketBase's hidden fields are
// read, filtered and sorted by superusers only (and by the system).
func hiddenFor(coll *core.Collection, c schemas.Caller) func(name string) bool {
	return func(name string) bool {
		if c.IsSuperuser() || c.IsSystem() {
			return false
		}
		f := coll.Fields.GetByName(name)
		return f != nil && f.GetHidden()
	}
}

// pickField returns the named field (which must have one of types), or the preferred one,
// or the first field of the first type that has one; "" when there is none. param is the
// query parameter that named it, for the error. Fields hidden from the caller do not exist.
func pickField(obj *schemas.Object, hidden func(string) bool, param, name, preferred string, types ...string) (string, error) {
	if name != "" {
		f := obj.Field(name)
		if f == nil || !slices.Contains(types, f.Type) || hidden(f.Name) {
			return "", badQuery("%s: %s has no %s field %q", param, obj.Name, strings.Join(types, " or "), name)
		}
		return name, nil
	}
	if f := obj.Field(preferred); f != nil && slices.Contains(types, f.Type) && !hidden(f.Name) {
		return f.Name, nil
	}
	for _, t := range types {
		for _, f := range obj.Fields {
			if f.Type == t && !f.Multiple && !hidden(f.Name) {
				return f.Name, nil
			}
		}
	}
	return "", nil
}

func (r *report) amountSQL() string {
	if r.amount == "" {
		return "0"
	}
	return "COALESCE([[" + r.amount + "]], 0)"
}

// Totals is a count of records and the sum of their amounts, converted to the base currency
// with the rates of the report's date.
type Totals struct {
	Count int     `json:"count"`
	Total float64 `json:"total"`
	// Weighted is the total weighted by each stage's probability.
	Weighted float64 `json:"weighted"`
	// ByCurrency is the same in each record's own currency, unconverted (currency amounts only).
	ByCurrency map[string]*Subtotal `json:"byCurrency,omitempty"`
	// Unconverted counts the records whose currency has no rate on the date: they are counted
	// in Count and ByCurrency but left out of Total and Weighted (see the report's MissingRates).
	Unconverted int `json:"unconverted,omitempty"`
}

// Subtotal is the count and sums of the records in one currency, in that currency.
type Subtotal struct {
	Count    int     `json:"count"`
	Total    float64 `json:"total"`
	Weighted float64 `json:"weighted"`
}

// MaxUnratedCurrencies caps the currencies without a rate that a report lists (in
// MissingRates and in each ByCurrency): ISO 4217 has fewer than 200 codes in use, while any
// three capital letters are a valid code, so one rep's deals in thousands of made-up codes
// would otherwise multiply every total of every report that counts them. Records in further
// such currencies are counted, and in Unconverted, but not by currency (Conversion's
// MoreMissingRates counts those currencies).
const MaxUnratedCurrencies = 100

// add counts row's records at probability (0-100), converting its sum with r's rates.
func (t *Totals) add(r *report, row stageRow, probability float64) {
	total := row.Total.Float64
	t.Count += row.N
	if row.Cur != "" {
		converted, ok := r.rates.Convert(total, row.Cur)
		if !ok && !r.missing[row.Cur] && len(r.missing) >= MaxUnratedCurrencies {
			r.unlisted[row.Cur] = true
			t.Unconverted += row.N
			return
		}
		if t.ByCurrency == nil {
			t.ByCurrency = map[string]*Subtotal{}
		}
		sub := t.ByCurrency[row.Cur]
		if sub == nil {
			sub = &Subtotal{}
			t.ByCurrency[row.Cur] = sub
		}
		sub.Count += row.N
		sub.Total += total
		sub.Weighted += total * probability / 100
		if !ok {
			r.missing[row.Cur] = true
			t.Unconverted += row.N
			return
		}
		total = converted
	}
	t.Total += total
	t.Weighted += total * probability / 100
}

// round rounds the converted sums to cents.
func (t *Totals) round() {
	t.Total, t.Weighted = schemas.RoundMoney(t.Total), schemas.RoundMoney(t.Weighted)
	for _, sub := range t.ByCurrency {
		sub.Total, sub.Weighted = schemas.RoundMoney(sub.Total), schemas.RoundMoney(sub.Weighted)
	}
}

// Conversion says how a report's amounts were converted: to Currency (empty when the amount
// is a plain number, not money), with the rates in effect on RatesDate. MissingRates lists the currencies of records that have no rate on that
// date; their amounts are in no converted total (never counted 1:1).
type Conversion struct {
	Currency     string         `json:"currency"`
	RatesDate    string         `json:"ratesDate"`
	Rates        []schemas.Rate `json:"rates"`
	MissingRates []string       `json:"missingRates"`
	// MoreMissingRates counts the currencies without a rate left out of MissingRates and of
	// ByCurrency (beyond MaxUnratedCurrencies of them).
	MoreMissingRates int `json:"moreMissingRates,omitempty"`
}

// conversion reports the rates used by r so far.
func (r *report) conversion() Conversion {
	c := Conversion{Currency: r.rates.Base, RatesDate: r.rates.Date, Rates: []schemas.Rate{}, MissingRates: []string{}}
	if r.currency == "''" {
		c.Currency = "" // a plain number amount is not money: nothing to convert
	}
	for _, code := range r.rates.Currencies() {
		rt, _ := r.rates.Rate(code)
		c.Rates = append(c.Rates, rt)
	}
	for code := range r.missing {
		c.MissingRates = append(c.MissingRates, code)
	}
	slices.Sort(c.MissingRates)
	c.MoreMissingRates = len(r.unlisted)
	return c
}

// StageTotals is one column of the pipeline board.
type StageTotals struct {
	schemas.Stage
	Totals
}

// Pipeline is the pipeline board's numbers: per stage, and for open, won and lost records.
type Pipeline struct {
	Object   string `json:"object"`
	Pipeline string `json:"pipeline"`
	Label    string `json:"label"`
	Field    string `json:"field"`
	Amount   string `json:"amount"`
	Conversion
	Stages []StageTotals `json:"stages"`
	Open   Totals        `json:"open"`
	Won    Totals        `json:"won"`
	Lost   Totals        `json:"lost"`
	// Other counts records whose stage is not in the pipeline (empty, or removed since).
	Other Totals `json:"other"`
}

type stageRow struct {
	Stage string          `db:"stage"`
	Group sql.NullString  `db:"grp"`
	Cur   string          `db:"cur"`
	N     int             `db:"n"`
	Total sql.NullFloat64 `db:"total"`
}

// MaxGroups caps the groups of one report: the values of the sources report's by (a free
// text field has about one value per record, and a report of one group per record is a list
// of every record in scope, unpaged) and the months of the forecast.
const MaxGroups = 1000

// groupSQL is the query summing the records in scope that match where (SQL; "" for all) by
// stage, by group (a SQL expression; NULL when "") and by currency, in order (a SQL ORDER BY;
// "" for none).
func (r *report) groupSQL(group, where, order string) string {
	if group == "" {
		group = "NULL"
	}
	if where == "" {
		where = "1=1"
	}
	q := fmt.Sprintf("SELECT COALESCE([[%[1]s]], '') AS stage, %[2]s AS grp, %[5]s AS cur, COUNT(*) AS n, SUM(%[3]s) AS total FROM {{%[4]s}} WHERE %[6]s AND (%[7]s) GROUP BY 1, 2, 3",
		r.stage.Name, group, r.amountSQL(), r.obj.Name, r.currency, r.scope.where("[["+r.obj.Name+".id]]"), where)
	if order != "" {
		q += " ORDER BY " + order
	}
	return q
}

// groupByStage sums the records in scope by stage (and by group, a SQL expression, if set).
func (s *Service) groupByStage(r *report, group string) ([]stageRow, error) {
	var rows []stageRow
	if err := s.query(r.groupSQL(group, "", ""), r.scope, nil).All(&rows); err != nil {
		return nil, fmt.Errorf("insights %s: %w", r.obj.Name, err)
	}
	return rows, nil
}

// eachGroup is groupByStage over the records matching where, a row at a time, in order,
// until f fails.
func (s *Service) eachGroup(r *report, group, where, order string, params dbx.Params, f func(stageRow) error) error {
	res, err := s.query(r.groupSQL(group, where, order), r.scope, params).Rows()
	if err != nil {
		return fmt.Errorf("insights %s: %w", r.obj.Name, err)
	}
	defer res.Close()
	for res.Next() {
		var row stageRow
		if err := res.ScanStruct(&row); err != nil {
			return fmt.Errorf("insights %s: %w", r.obj.Name, err)
		}
		if err := f(row); err != nil {
			return err
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("insights %s: %w", r.obj.Name, err)
	}
	return nil
}

// Pipeline returns the count, total and probability-weighted total of each stage, over the
// records the caller may list.
func (s *Service) Pipeline(info *core.RequestInfo, q Query) (*Pipeline, error) {
	r, err := s.resolve(q, info)
	if err != nil {
		return nil, err
	}
	rows, err := s.groupByStage(r, "")
	if err != nil {
		return nil, err
	}
	out := &Pipeline{Object: r.obj.Name, Pipeline: r.pipeline.Name, Label: r.pipeline.Label, Field: r.stage.Name,
		Amount: r.amount, Stages: make([]StageTotals, len(r.pipeline.Stages))}
	for i, st := range r.pipeline.Stages {
		out.Stages[i].Stage = *st
	}
	for _, row := range rows {
		i := slices.IndexFunc(r.pipeline.Stages, func(st *schemas.Stage) bool { return st.Name == row.Stage })
		if i < 0 {
			out.Other.add(r, row, 0)
			continue
		}
		st := r.pipeline.Stages[i]
		out.Stages[i].add(r, row, st.Probability)
		switch {
		case st.Won:
			out.Won.add(r, row, st.Probability)
		case st.Lost:
			out.Lost.add(r, row, st.Probability)
		case !st.IsClosed():
			out.Open.add(r, row, st.Probability)
		}
	}
	for i := range out.Stages {
		out.Stages[i].round()
	}
	for _, t := range []*Totals{&out.Open, &out.Won, &out.Lost, &out.Other} {
		t.round()
	}
	out.Conversion = r.conversion()
	return out, nil
}

// Month is one month of the forecast ("2026-03"; "" for records without a close date).
type Month struct {
	Month string `json:"month"`
	Totals
}

// Forecast is the open pipeline by expected close month.
type Forecast struct {
	Object   string `json:"object"`
	Pipeline string `json:"pipeline"`
	Date     string `json:"date"`
	Amount   string `json:"amount"`
	Conversion
	Months []Month `json:"months"`
	// OtherMonths sums the open records of the months left out of Months, which holds the
	// MaxGroups months nearest the current one (and records without a date): close dates
	// centuries away are data errors, and a month each would make the answer unbounded.
	OtherMonths *Totals `json:"otherMonths,omitempty"`
}

// Forecast returns the open records' totals and weighted totals by the month of their
// expected close date, over the records the caller may list.
func (s *Service) Forecast(info *core.RequestInfo, q Query) (*Forecast, error) {
	r, err := s.resolve(q, info)
	if err != nil {
		return nil, err
	}
	if r.date == "" {
		return nil, badQuery("date: %s has no date field to forecast by", r.obj.Name)
	}
	var open []any
	for _, st := range r.pipeline.Stages {
		if !st.IsClosed() {
			open = append(open, st.Name)
		}
	}
	out := &Forecast{Object: r.obj.Name, Pipeline: r.pipeline.Name, Date: r.date, Amount: r.amount, Months: []Month{}}
	if len(open) == 0 {
		out.Conversion = r.conversion()
		return out, nil
	}
	// Open records only, the months nearest this one first (records without a date before
	// them, a month that is no date after them), so that the first MaxGroups are kept.
	params := namedParams("insightsOpen", open)
	params["insightsToday"] = time.Now().UTC().Format(time.DateOnly)
	where := "COALESCE([[" + r.stage.Name + "]], '') IN (" + placeholders("insightsOpen", len(open)) + ")"
	order := "CASE WHEN grp = '' THEN 0 ELSE 1 END, COALESCE(abs(julianday(grp || '-01') - julianday({:insightsToday})), 1e18), grp"
	byMonth := map[string]*Totals{}
	dated := 0 // months in byMonth, "" (no date) aside
	err = s.eachGroup(r, "substr(COALESCE([["+r.date+"]], ''), 1, 7)", where, order, params, func(row stageRow) error {
		st := r.pipeline.Stage(row.Stage)
		if st == nil || st.IsClosed() {
			return nil
		}
		t := byMonth[row.Group.String]
		if t == nil && row.Group.String != "" && dated >= MaxGroups {
			if out.OtherMonths == nil {
				out.OtherMonths = &Totals{}
			}
			t = out.OtherMonths
		} else if t == nil {
			t = &Totals{}
			byMonth[row.Group.String] = t
			if row.Group.String != "" {
				dated++
			}
		}
		t.add(r, row, st.Probability)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.OtherMonths != nil {
		out.OtherMonths.round()
	}
	for m, t := range byMonth {
		t.round()
		out.Months = append(out.Months, Month{Month: m, Totals: *t})
	}
	out.Conversion = r.conversion()
	// Months in order; records without a date last.
	sort.Slice(out.Months, func(i, j int) bool {
		a, b := out.Months[i].Month, out.Months[j].Month
		if a == "" || b == "" {
			return b == "" && a != ""
		}
		return a < b
	})
	return out, nil
}

// Source is the outcome of the records of one value of the grouping field.
type Source struct {
	Value string `json:"value"`
	Label string `json:"label"`
	Count int    `json:"count"`
	Open  int    `json:"open"`
	Won   int    `json:"won"`
	Lost  int    `json:"lost"`
	// WonAmount is the won records' amount in the base currency (see Sources.MissingRates).
	WonAmount float64 `json:"wonAmount"`
	// WinRate is won / (won + lost): the share of closed records that were won; nil when none
	// closed.
	WinRate *float64 `json:"winRate"`
	// ConversionRate is won / count: the share of all records that were won; nil when none.
	ConversionRate *float64 `json:"conversionRate"`
}

// Sources is the win and conversion rate by lead source.
type Sources struct {
	Object   string `json:"object"`
	Pipeline string `json:"pipeline"`
	By       string `json:"by"`
	Conversion
	Sources []Source `json:"sources"`
}

// Sources returns, for each value of the grouping field (lead source), how many records were
// won, lost and are open, with the win rate and the conversion rate.
func (s *Service) Sources(info *core.RequestInfo, q Query) (*Sources, error) {
	r, err := s.resolve(q, info)
	if err != nil {
		return nil, err
	}
	if r.by == "" {
		return nil, badQuery("by: %s has no field to group by", r.obj.Name)
	}
	byField := r.obj.Field(r.by)
	bySource := map[string]*Source{}
	err = s.eachGroup(r, "COALESCE([["+r.by+"]], '')", "", "", nil, func(row stageRow) error {
		v := row.Group.String
		src := bySource[v]
		if src == nil {
			if len(bySource) >= MaxGroups {
				return badQuery("by: %s.%s has more than %d values among these records; group by a field with fewer (a select field)", r.obj.Name, r.by, MaxGroups)
			}
			src = &Source{Value: v, Label: optionLabel(byField, v)}
			bySource[v] = src
		}
		src.Count += row.N
		switch st := r.pipeline.Stage(row.Stage); {
		case st != nil && st.Won:
			src.Won += row.N
			var won Totals
			won.add(r, row, 100)
			src.WonAmount += won.Total
		case st != nil && st.Lost:
			src.Lost += row.N
		case st != nil && !st.IsClosed():
			src.Open += row.N
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &Sources{Object: r.obj.Name, Pipeline: r.pipeline.Name, By: r.by, Sources: []Source{}}
	for _, src := range bySource {
		src.WonAmount = schemas.RoundMoney(src.WonAmount)
		if closed := src.Won + src.Lost; closed > 0 {
			src.WinRate = ratio(src.Won, closed)
		}
		if src.Count > 0 {
			src.ConversionRate = ratio(src.Won, src.Count)
		}
		out.Sources = append(out.Sources, *src)
	}
	sort.Slice(out.Sources, func(i, j int) bool {
		a, b := out.Sources[i], out.Sources[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Value < b.Value
	})
	out.Conversion = r.conversion()
	return out, nil
}

func ratio(a, b int) *float64 {
	v := float64(a) / float64(b)
	return &v
}

func optionLabel(f *schemas.Field, v string) string {
	if v == "" {
		return "(none)"
	}
	if f != nil {
		for _, o := range f.Options {
			if o.Value == v && o.Label != "" {
				return o.Label
			}
		}
	}
	return v
}

// Average is the mean of Count durations, in days.
type Average struct {
	Count int     `json:"count"`
	Days  float64 `json:"days"`
}

func (a *Average) add(d time.Duration) {
	a.Days = (a.Days*float64(a.Count) + d.Hours()/24) / float64(a.Count+1)
	a.Count++
}

// StageTime is the average time records spent in one stage.
type StageTime struct {
	Stage string `json:"stage"`
	Label string `json:"label"`
	Average
}

// Cycle is how long records take: to be won, and in each stage.
type Cycle struct {
	Object   string `json:"object"`
	Pipeline string `json:"pipeline"`
	// DaysToClose is the mean time from creation to closing of won records (the closed date
	// field, else the time the record entered its won stage). Records closed before they were
	// created (imported history) are left out.
	DaysToClose Average `json:"daysToClose"`
	// TimeInStage is the mean time of completed stays in each stage, from the stage history.
	TimeInStage []StageTime `json:"timeInStage"`
}

type changeRow struct {
	Record  string `db:"record"`
	From    string `db:"from"`
	To      string `db:"to"`
	At      string `db:"at"`
	Created string `db:"created"`
}

// Cycle returns the average days to close won records and the average days spent in each
// stage, over the records the caller may list.
func (s *Service) Cycle(info *core.RequestInfo, q Query) (*Cycle, error) {
	r, err := s.resolve(q, info)
	if err != nil {
		return nil, err
	}
	out := &Cycle{Object: r.obj.Name, Pipeline: r.pipeline.Name, TimeInStage: []StageTime{}}

	// Won records, in id order: from creation to closing. They are read a row at a time beside
	// the stage history (in the same order), so neither is held in memory: a record's last entry
	// into a won stage is known when the history moves past it.
	var won *wonCursor
	if names := wonStages(r.pipeline); len(names) > 0 {
		closed := "''"
		if r.closed != "" {
			closed = "COALESCE([[" + r.closed + "]], '')"
		}
		won = &wonCursor{out: &out.DaysToClose}
		wq := fmt.Sprintf("SELECT [[id]] AS record, [[created]] AS created, %[1]s AS at FROM {{%[2]s}} WHERE [[%[3]s]] IN (%[4]s) AND %[5]s ORDER BY [[id]]",
			closed, r.obj.Name, r.stage.Name, placeholders("insightsWon", len(names)), r.scope.where("[["+r.obj.Name+".id]]"))
		if won.rows, err = s.query(wq, r.scope, namedParams("insightsWon", names)).Rows(); err != nil {
			return nil, fmt.Errorf("insights won %s: %w", r.obj.Name, err)
		}
		defer won.rows.Close()
		if err := won.next(); err != nil {
			return nil, fmt.Errorf("insights won %s: %w", r.obj.Name, err)
		}
	}

	// Stage history of the records in scope, oldest first.
	hq := fmt.Sprintf("SELECT sc.[[record]] AS record, sc.[[from]] AS [[from]], sc.[[to]] AS [[to]], sc.[[at]] AS at, o.[[created]] AS created "+
		"FROM {{%[1]s}} sc JOIN {{%[2]s}} o ON o.[[id]] = sc.[[record]] "+
		"WHERE sc.[[object]] = {:insightsObject} AND sc.[[field]] = {:insightsField} AND %[3]s "+
		"ORDER BY sc.[[record]], sc.[[at]], sc.[[rowid]]",
		StageChangesCollection, r.obj.Name, r.scope.where("o.[[id]]"))
	stays := map[string]*Average{}
	if _, err := s.app.FindCachedCollectionByNameOrId(StageChangesCollection); err == nil {
		// Read a row at a time (a manager's history may hold millions of changes): each stay
		// needs only the change before it.
		rows, err := s.query(hq, r.scope, dbx.Params{"insightsObject": r.obj.Name, "insightsField": r.stage.Name}).Rows()
		if err != nil {
			return nil, fmt.Errorf("insights stage history of %s: %w", r.obj.Name, err)
		}
		defer rows.Close()
		var prev, c changeRow
		var wonAt time.Time // when prev's record last entered a won stage
		for first := true; rows.Next(); first = false {
			c = changeRow{}
			if err := rows.ScanStruct(&c); err != nil {
				return nil, fmt.Errorf("insights stage history of %s: %w", r.obj.Name, err)
			}
			if !first && prev.Record != c.Record {
				if err := won.upTo(prev.Record, wonAt); err != nil {
					return nil, fmt.Errorf("insights won %s: %w", r.obj.Name, err)
				}
				wonAt = time.Time{}
			}
			at := parseTime(c.At)
			var start time.Time
			switch {
			case !first && prev.Record == c.Record:
				start = parseTime(prev.At)
			case c.From != "":
				start = parseTime(c.Created) // the first stay began when the record was created
			}
			if c.From != "" && !start.IsZero() && !at.Before(start) {
				if stays[c.From] == nil {
					stays[c.From] = &Average{}
				}
				stays[c.From].add(at.Sub(start))
			}
			if st := r.pipeline.Stage(c.To); st != nil && st.Won {
				wonAt = at
			}
			prev = c
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("insights stage history of %s: %w", r.obj.Name, err)
		}
		if prev.Record != "" {
			if err := won.upTo(prev.Record, wonAt); err != nil {
				return nil, fmt.Errorf("insights won %s: %w", r.obj.Name, err)
			}
		}
	}
	for _, st := range r.pipeline.Stages {
		if a := stays[st.Name]; a != nil {
			out.TimeInStage = append(out.TimeInStage, StageTime{Stage: st.Name, Label: st.Label, Average: *a})
		}
	}
	// The won records after the last one with a history.
	if err := won.upTo("", time.Time{}); err != nil {
		return nil, fmt.Errorf("insights won %s: %w", r.obj.Name, err)
	}
	return out, nil
}

// wonStages returns the names of the pipeline's won stages.
func wonStages(p *schemas.Pipeline) []any {
	var names []any
	for _, st := range p.Stages {
		if st.Won {
			names = append(names, st.Name)
		}
	}
	return names
}

// wonCursor walks the won records in id order, adding each one's time to close to out.
type wonCursor struct {
	rows *dbx.Rows
	out  *Average
	cur  changeRow
	ok   bool // cur holds a row not yet added
}

func (w *wonCursor) next() error {
	w.cur, w.ok = changeRow{}, w.rows.Next()
	if !w.ok {
		return w.rows.Err()
	}
	return w.rows.ScanStruct(&w.cur)
}

// upTo adds the won records up to record (every remaining one when record is ""): those
// before it had no entry into a won stage in the history; record itself last entered one at
// wonAt (zero if never), which counts when the record has no closed date.
func (w *wonCursor) upTo(record string, wonAt time.Time) error {
	if w == nil {
		return nil
	}
	for w.ok && (record == "" || w.cur.Record <= record) {
		end := parseTime(w.cur.At)
		if end.IsZero() && w.cur.Record == record {
			end = wonAt
		}
		if start := parseTime(w.cur.Created); !end.IsZero() && !start.IsZero() && !end.Before(start) {
			w.out.add(end.Sub(start))
		}
		if err := w.next(); err != nil {
			return err
		}
	}
	return nil
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	d, err := types.ParseDateTime(s)
	if err != nil {
		return time.Time{}
	}
	return d.Time()
}

func placeholders(prefix string, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("{:%s%d}", prefix, i)
	}
	return strings.Join(ps, ", ")
}

func namedParams(prefix string, vals []any) dbx.Params {
	p := dbx.Params{}
	for i, v := range vals {
		p[fmt.Sprintf("%s%d", prefix, i)] = v
	}
	return p
}

// StageSince returns, for each of ids the caller may list, when the record entered its
// current stage: its latest stage change, else its creation.
func (s *Service) StageSince(info *core.RequestInfo, q Query, ids []string) (map[string]time.Time, error) {
	r, err := s.resolve(q, info)
	if err != nil {
		return nil, err
	}
	// The records are named by id: whatever pipeline (or owner) each follows.
	r.scope.pipe = ""
	out := map[string]time.Time{}
	if len(ids) == 0 {
		return out, nil
	}
	vals := make([]any, len(ids))
	for i, id := range ids {
		vals[i] = id
	}
	latest := "NULL"
	if _, err := s.app.FindCachedCollectionByNameOrId(StageChangesCollection); err == nil {
		latest = fmt.Sprintf("(SELECT MAX(sc.[[at]]) FROM {{%s}} sc WHERE sc.[[object]] = {:insightsObject} AND sc.[[field]] = {:insightsField} AND sc.[[record]] = o.[[id]])",
			StageChangesCollection)
	}
	sq := fmt.Sprintf("SELECT o.[[id]] AS record, o.[[created]] AS created, COALESCE(%[1]s, '') AS at FROM {{%[2]s}} o WHERE o.[[id]] IN (%[3]s) AND %[4]s",
		latest, r.obj.Name, placeholders("insightsID", len(vals)), r.scope.where("o.[[id]]"))
	params := namedParams("insightsID", vals)
	params["insightsObject"] = r.obj.Name
	params["insightsField"] = r.stage.Name
	var rows []changeRow
	if err := s.query(sq, r.scope, params).All(&rows); err != nil {
		return nil, fmt.Errorf("insights stage since %s: %w", r.obj.Name, err)
	}
	for _, row := range rows {
		t := parseTime(row.At)
		if t.IsZero() {
			t = parseTime(row.Created)
		}
		out[row.Record] = t.UTC()
	}
	return out, nil
}
