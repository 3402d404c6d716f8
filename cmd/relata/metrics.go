package main

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/relata/relata/schemas/audit"
)

// registerMetrics adds GET /metrics in the Prometheus format, off unless --metrics (or
// RELATA_METRICS=1). It answers a superuser, or a request with
// "Authorization: Bearer $RELATA_METRICS_TOKEN" when that variable is set; anyone else gets 401.
func registerMetrics(app *pocketbase.PocketBase) {
	var enabled bool
	on, _ := strconv.ParseBool(os.Getenv("RELATA_METRICS"))
	app.RootCmd.PersistentFlags().BoolVar(&enabled, "metrics", on,
		"with serve: expose Prometheus metrics at /metrics for superusers or RELATA_METRICS_TOKEN (env RELATA_METRICS=1)")
	token := os.Getenv("RELATA_METRICS_TOKEN")

	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.main.metrics",
		Func: func(e *core.ServeEvent) error {
			if !enabled {
				return e.Next()
			}
			reg := prometheus.NewRegistry()
			requests := prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "relata_http_requests_total",
				Help: "HTTP requests by route pattern, method and status code.",
			}, []string{"route", "method", "status"})
			duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name:    "relata_http_request_duration_seconds",
				Help:    "HTTP request latency by route pattern.",
				Buckets: prometheus.DefBuckets,
			}, []string{"route"})
			reg.MustRegister(requests, duration, newQueueCollector(e.App), newAuditJournalCollector(e.App))
			if db, ok := e.App.NonconcurrentDB().(*dbx.DB); ok {
				reg.MustRegister(newGroupCommitCollectors(db)...)
			}

			// Counted around PocketBase's rate limiter, superuser IP list, body limit and panic
			// recovery (their priorities are below a default middleware's): bound with the
			// default priority, the refusals they answer — a brute force's 429s — never showed.
			e.Router.Bind(&hook.Handler[*core.RequestEvent]{
				Id:       "relata.metrics",
				Priority: apis.DefaultActivityLoggerMiddlewarePriority + 1,
				Func: func(re *core.RequestEvent) error {
					start := time.Now()
					err := re.Next()
					route := re.Request.Pattern
					if route == "" {
						route = "unmatched"
					}
					status := re.Status()
					if err != nil {
						var apiErr *router.ApiError
						if errors.As(err, &apiErr) {
							status = apiErr.Status
						} else {
							status = http.StatusInternalServerError
						}
					}
					if status == 0 {
						status = http.StatusOK
					}
					requests.WithLabelValues(route, methodLabel(re.Request.Method), strconv.Itoa(status)).Inc()
					duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
					return err
				},
			})

			// The default registry holds the Go runtime and process series, and Litestream's
			// (serve --replicate).
			handler := promhttp.HandlerFor(prometheus.Gatherers{reg, prometheus.DefaultGatherer}, promhttp.HandlerOpts{})
			e.Router.GET("/metrics", func(re *core.RequestEvent) error {
				if !metricsAllowed(re, token) {
					return re.UnauthorizedError("Metrics need a superuser or the RELATA_METRICS_TOKEN bearer token.", nil)
				}
				handler.ServeHTTP(re.Response, re.Request)
				return nil
			})
			return e.Next()
		},
	})
}

// methodLabel is the method label of a request: the standard methods as they are, any other
// "other". The method is the client's choice (any token up to the header limit, routed to
// the catch-all route "/"), so taking it as is let anyone add a series per request — with a
// label as long as the request line — to the server's memory and every scrape.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

func metricsAllowed(re *core.RequestEvent, token string) bool {
	if re.HasSuperuserAuth() {
		return true
	}
	got, ok := strings.CutPrefix(re.Request.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// queueCollector reads the run queue, the outbox and the database size at each scrape.
type queueCollector struct {
	app                                              core.App
	runs, events, runsOldest, triggerLag, emails, db *prometheus.Desc
}

func newQueueCollector(app core.App) *queueCollector {
	return &queueCollector{
		app:  app,
		runs: prometheus.NewDesc("relata_workflow_runs", "Workflow runs by status.", []string{"status"}, nil),
		events: prometheus.NewDesc("relata_workflow_events_pending",
			"Changes that queued several runs whose runs are not written yet (workflow_events waiting to be fanned out).", nil, nil),
		runsOldest: prometheus.NewDesc("relata_run_queue_oldest_age_seconds",
			"Age of the oldest run waiting to be executed (pending or retry), or of the oldest change whose runs are not written yet.", nil, nil),
		triggerLag: prometheus.NewDesc("relata_trigger_lag_seconds", "How long the most overdue run has been due (now minus its next_at) — how far the workers are behind.", nil, nil),
		emails:     prometheus.NewDesc("relata_emails", "Outbox emails by status.", []string{"status"}, nil),
		db:         prometheus.NewDesc("relata_db_size_bytes", "Size of the database files in the data directory.", []string{"file"}, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.runs
	ch <- c.events
	ch <- c.runsOldest
	ch <- c.triggerLag
	ch <- c.emails
	ch <- c.db
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now().UTC()
	for status, n := range countBy(c.app, "workflow_runs") {
		ch <- prometheus.MustNewConstMetric(c.runs, prometheus.GaugeValue, n, status)
	}
	for status, n := range countBy(c.app, "emails") {
		ch <- prometheus.MustNewConstMetric(c.emails, prometheus.GaugeValue, n, status)
	}
	var events struct {
		N int `db:"n"`
	}
	_ = c.app.DB().NewQuery(`SELECT COUNT(*) AS n FROM workflow_events`).One(&events)
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(events.N))
	var oldest, due struct {
		T string `db:"t"`
	}
	// A change's runs wait as one workflow_events row until the engine writes them: the
	// queue's oldest item is the older of the two.
	_ = c.app.DB().NewQuery(`SELECT COALESCE(MIN(t), '') AS t FROM (
		SELECT MIN(created) AS t FROM workflow_runs WHERE status IN ('pending', 'retry')
		UNION ALL SELECT MIN(created) FROM workflow_events)`).One(&oldest)
	ch <- prometheus.MustNewConstMetric(c.runsOldest, prometheus.GaugeValue, ageSeconds(oldest.T, now))
	_ = c.app.DB().NewQuery(`SELECT COALESCE(MIN(next_at), '') AS t FROM workflow_runs
		WHERE status IN ('pending', 'retry', 'waiting') AND next_at <= {:now}`).
		Bind(dbx.Params{"now": now.Format(types.DefaultDateLayout)}).One(&due)
	ch <- prometheus.MustNewConstMetric(c.triggerLag, prometheus.GaugeValue, ageSeconds(due.T, now))
	for _, name := range []string{"data.db", "data.db-wal", "auxiliary.db", "auxiliary.db-wal"} {
		if st, err := os.Stat(filepath.Join(c.app.DataDir(), name)); err == nil {
			ch <- prometheus.MustNewConstMetric(c.db, prometheus.GaugeValue, float64(st.Size()), name)
		}
	}
}

// countBy counts the rows of a table by its status column (empty if the table is missing).
func countBy(app core.App, table string) map[string]float64 {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	_ = app.DB().NewQuery("SELECT status, COUNT(*) AS n FROM " + table + " GROUP BY status").All(&rows)
	out := map[string]float64{}
	for _, r := range rows {
		out[r.Status] = float64(r.N)
	}
	return out
}

func ageSeconds(ts string, now time.Time) float64 {
	if ts == "" {
		return 0
	}
	t, err := types.ParseDateTime(ts)
	if err != nil || t.IsZero() {
		return 0
	}
	if d := now.Sub(t.Time()).Seconds(); d > 0 {
		return d
	}
	return 0
}

// auditJournalCollector reads the audit journal at each scrape: the changes whose entries
// are not chained into the trail yet (see audit.Journal), normally chained within
// audit.ChainDelay of their commit.
type auditJournalCollector struct {
	app             core.App
	pending, oldest *prometheus.Desc
}

func newAuditJournalCollector(app core.App) *auditJournalCollector {
	return &auditJournalCollector{
		app:     app,
		pending: prometheus.NewDesc("relata_audit_journal_pending", "Changes journaled whose audit entries are not chained into the trail yet.", nil, nil),
		oldest: prometheus.NewDesc("relata_audit_journal_oldest_age_seconds",
			"Age of the oldest change whose audit entry is not chained yet (0 when none): how long the trail's tamper evidence lags.", nil, nil),
	}
}

func (c *auditJournalCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.oldest
}

func (c *auditJournalCollector) Collect(ch chan<- prometheus.Metric) {
	n, oldest, err := audit.Pending(c.app)
	if err != nil {
		return
	}
	age := 0.0
	if n > 0 && !oldest.IsZero() {
		age = max(0, time.Since(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

// newGroupCommitCollectors exposes data.db's group commit (registerGroupCommit): commits and
// the write transactions they held; their ratio is the mean group size.
func newGroupCommitCollectors(db *dbx.DB) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "relata_db_group_commits_total",
			Help: "Commits of data.db's shared write transactions (group commit; 0 when RELATA_GROUP_COMMIT=0).",
		}, func() float64 { groups, _ := db.GroupCommitStats(); return float64(groups) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "relata_db_group_commit_transactions_total",
			Help: "Write transactions run in data.db's shared transactions, committed or not.",
		}, func() float64 { _, members := db.GroupCommitStats(); return float64(members) }),
	}
}
