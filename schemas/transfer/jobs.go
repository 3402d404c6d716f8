package transfer

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/tokens"
)

// The web app's import wizard: a preview (the first rows dry-run, with each cell's problem),
// and imports run as jobs — started with an answer naming the batch, followed by polling
// its counts, cancellable between chunks, their failed rows downloadable as CSV.

// previewRows is how many data rows the preview dry-runs and shows.
const previewRows = 20

// jobKeep is how long a finished job's failed rows stay downloadable.
const jobKeep = time.Hour

// job is one import running (or finished) in the background.
type job struct {
	batch  *core.Record
	user   string // the CRM user who started it; "" for a superuser
	cancel context.CancelFunc

	mu       sync.Mutex
	dups     int
	samples  []ImportDuplicate
	total    int // data rows in the file
	rows     int // data rows read
	res      *Result
	status   string
	err      string
	finished time.Time
}

// jobView is what GET /api/relata/import-jobs/{batch} answers.
type jobView struct {
	Batch     string `json:"batch"`
	Object    string `json:"object"`
	File      string `json:"file"`
	Status    string `json:"status"` // running, done, cancelled, failed
	Error     string `json:"error,omitempty"`
	Total     int    `json:"total"`
	Rows      int    `json:"rows"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Failed    int    `json:"failed"`
	Related   int    `json:"related"`
	// RunsQueued is how many workflow runs the rows written so far queued (workflows on).
	RunsQueued int `json:"runsQueued"`
	// Duplicates counts the created records that may duplicate records that were there
	// before (schemas/dedupe's rules, among what the importer may view); DuplicateSamples
	// are the first of them.
	Duplicates        int               `json:"duplicates"`
	DuplicateSamples  []ImportDuplicate `json:"duplicateSamples,omitempty"`
	DuplicatesChecked int               `json:"duplicatesChecked"`
}

func (j *job) view() jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := jobView{Batch: j.batch.Id, Object: j.batch.GetString("object"), File: j.batch.GetString("file"),
		Status: j.status, Error: j.err, Total: j.total, Rows: j.rows}
	if r := j.res; r != nil {
		v.Created, v.Updated, v.Unchanged, v.Failed, v.Related, v.RunsQueued = r.Created, r.Updated, r.Unchanged, r.Failed, r.Related, r.RunsQueued
	}
	v.Duplicates, v.DuplicateSamples = j.dups, j.samples
	if j.res != nil {
		v.DuplicatesChecked = j.res.DuplicatesChecked
	}
	return v
}

func (s *Service) jobRoutes(g *router.RouterGroup[*core.RequestEvent]) {
	g.POST("/import/{object}/preview", s.handlePreview).Bind(apis.RequireAuth(), apis.BodyLimit(maxUpload))
	g.POST("/import/{object}/start", s.handleStartJob).Bind(apis.RequireAuth(), apis.BodyLimit(maxUpload))
	g.GET("/import-jobs/{batch}", s.handleImportJob).Bind(apis.RequireAuth())
	g.POST("/import-jobs/{batch}/cancel", s.handleCancelJob).Bind(apis.RequireAuth())
	g.GET("/import-jobs/{batch}/failed", s.handleImportJobFailed).Bind(apis.RequireAuth())
}

// importRequest reads the multipart form of an import: the file and the options.
func (s *Service) importRequest(e *core.RequestEvent) (_ multipart.File, _ ImportOptions, release func(), _ error) {
	as, err := actor(e)
	if err != nil {
		return nil, ImportOptions{}, nil, e.ForbiddenError("Only CRM users can import records.", nil)
	}
	// The slot is taken before the upload (up to 200 MB) is read into a temporary file.
	if release, err = s.acquire(as); err != nil {
		return nil, ImportOptions{}, nil, busyError(e)
	}
	file, hdr, err := e.Request.FormFile("file")
	if err != nil {
		release()
		return nil, ImportOptions{}, nil, e.BadRequestError("Send the spreadsheet as the multipart field \"file\".", nil)
	}
	form := e.Request.FormValue
	opts := ImportOptions{
		Object: e.Request.PathValue("object"), File: filepath.Base(hdr.Filename), Key: form("key"), Mode: form("mode"),
		DryRun: form("dryRun") == "true", Workflows: form("workflows") == "true", CreateMissing: form("createMissing") == "true",
		DateOrder: form("dateOrder"), Decimal: form("decimal"), Read: ReadOptions{Sheet: form("sheet")}, As: as,
	}
	if t, ok := tokens.FromRequest(e); ok && len(t.Objects) > 0 {
		opts.Reaches = t.Reaches // its related records too: a token for contacts creates no companies
	}
	if m := form("mapping"); m != "" {
		if err := json.Unmarshal([]byte(m), &opts.Map); err != nil {
			file.Close()
			release()
			return nil, opts, nil, e.BadRequestError("mapping: must be a JSON object of column heading to field name: "+err.Error(), nil)
		}
	}
	return file, opts, release, nil
}

// importError answers an import that could not start.
func importError(e *core.RequestEvent, opts ImportOptions, err error) error {
	if errors.Is(err, errForbidden) {
		return e.ForbiddenError("You may not import into "+opts.Object+".", nil)
	}
	return e.BadRequestError("Cannot import: "+err.Error(), nil)
}

// handlePreview serves POST /api/relata/import/{object}/preview: the same form as an import;
// it dry-runs the first rows and answers the header, the mapping (automatic unless given),
// the ignored columns, and those rows with each cell's problem: {header, mapping, ignored,
// rows: [{row, cells, errors: {heading: message}, error}], created, updated, unchanged, failed}.
func (s *Service) handlePreview(e *core.RequestEvent) error {
	// Opening a spreadsheet of up to 200 MB is the heavy part of a preview: it takes one of
	// the user's slots, as an import does.
	file, opts, release, err := s.importRequest(e)
	if err != nil {
		return err
	}
	defer release()
	defer file.Close()
	opts.DryRun, opts.Limit = true, previewRows
	res, err := s.Import(file, opts)
	if err != nil {
		return importError(e, opts, err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return e.InternalServerError("", err)
	}
	tab, err := Open(file, opts.Read)
	if err != nil {
		return e.BadRequestError("Cannot read the file: "+err.Error(), nil)
	}
	defer tab.Close()
	type row struct {
		Row    int               `json:"row"`
		Cells  []string          `json:"cells"`
		Errors map[string]string `json:"errors"`
		Error  string            `json:"error,omitempty"` // a problem of the whole row
		// Duplicates are existing records (that the importer may view) the row may duplicate.
		Duplicates []dedupe.Match `json:"duplicates,omitempty"`
	}
	byRow := map[int]*row{}
	var rows []*row
	for len(rows) < previewRows {
		cells, n, err := tab.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, errBadRow) {
			return e.BadRequestError("Cannot read the file: "+err.Error(), nil)
		}
		r := &row{Row: n, Cells: cells, Errors: map[string]string{}}
		rows = append(rows, r)
		byRow[n] = r
	}
	for _, x := range res.Errors {
		r := byRow[x.Row]
		if r == nil {
			continue
		}
		if x.Column == "" {
			r.Error = joinMsg(r.Error, x.Message)
		} else {
			r.Errors[x.Column] = joinMsg(r.Errors[x.Column], x.Message)
		}
	}
	if err := s.likelyDuplicates(e, opts, res, func(i int) ([]string, *[]dedupe.Match) { return rows[i].Cells, &rows[i].Duplicates }, len(rows)); err != nil {
		return e.InternalServerError("", err)
	}
	return e.JSON(http.StatusOK, map[string]any{
		"header": res.Header, "mapping": res.Mapping, "ignored": res.Ignored, "rows": rows,
		"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged, "failed": res.Failed,
	})
}

// likelyDuplicates fills in, for each of n preview rows, the existing records the row may
// duplicate (schemas/dedupe's rules, among the records the importer may view), leaving out
// the record a row updates by the import's key. row(i) gives a row's cells and where to
// write its matches.
func (s *Service) likelyDuplicates(e *core.RequestEvent, opts ImportOptions, res *Result, row func(int) ([]string, *[]dedupe.Match), n int) error {
	obj, ok := s.reg.Object(opts.Object)
	if !ok || n == 0 {
		return nil
	}
	values := make([]map[string]any, n)
	keys := map[string]bool{}
	for i := range n {
		cells, _ := row(i)
		v := map[string]any{}
		for j, h := range res.Header {
			if f := res.Mapping[h]; f != "" && j < len(cells) && strings.TrimSpace(cells[j]) != "" {
				v[f] = strings.TrimSpace(cells[j])
			}
		}
		values[i] = v
		if opts.Key != "" {
			if k, ok := v[opts.Key].(string); ok {
				keys[strings.ToLower(k)] = true
			}
		}
	}
	matches, err := dedupe.Likely(e.App, schemas.User(e.Auth), obj, values)
	if err != nil {
		return err
	}
	// The records the rows update (same key) are not duplicates of them.
	updated := map[string]string{} // record id -> key value
	if opts.Key != "" && obj.Field(opts.Key) != nil && len(keys) > 0 {
		coll, err := e.App.FindCachedCollectionByNameOrId(opts.Object)
		if err != nil {
			return err
		}
		var ks []any
		for k := range keys {
			ks = append(ks, k)
		}
		var found []struct {
			ID  string `db:"id"`
			Key string `db:"k"`
		}
		err = e.App.DB().Select("id", "lower([["+opts.Key+"]]) AS k").From(coll.Name).
			Where(dbx.In("lower([["+opts.Key+"]])", ks...)).All(&found)
		if err != nil {
			return err
		}
		for _, f := range found {
			updated[f.ID] = f.Key
		}
	}
	for i := range n {
		_, dst := row(i)
		key, _ := values[i][opts.Key].(string)
		for _, m := range matches[i] {
			if k, ok := updated[m.ID]; ok && k == strings.ToLower(key) {
				continue
			}
			*dst = append(*dst, m)
			if len(*dst) == 3 {
				break
			}
		}
	}
	return nil
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// handleStartJob serves POST /api/relata/import/{object}/start: the same form as an import.
// Problems that stop the whole import (mapping, key, rights) answer 400 or 403 at once; else
// the file is kept in a temporary file, the batch recorded, and the answer {batch, total}
// comes before the import runs.
func (s *Service) handleStartJob(e *core.RequestEvent) error {
	file, opts, release, err := s.importRequest(e)
	if err != nil {
		return err
	}
	started := false
	defer func() {
		if !started {
			release() // the job did not start: its slot is free again
		}
	}()
	defer file.Close()
	if opts.DryRun {
		return e.BadRequestError("A job is a real import; dry-run with POST /api/relata/import/{object}.", nil)
	}
	check := opts
	check.DryRun, check.Limit = true, 1
	if _, err := s.Import(file, check); err != nil {
		return importError(e, opts, err)
	}
	tmp, err := os.CreateTemp("", "relata-import-*")
	if err != nil {
		return e.InternalServerError("", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return e.InternalServerError("", err)
	}
	if _, err := io.Copy(tmp, file); err != nil {
		return e.InternalServerError("", err)
	}
	total, err := countRows(tmp, opts.Read)
	if err != nil {
		return e.BadRequestError("Cannot read the file: "+err.Error(), nil)
	}
	coll, err := s.app.FindCollectionByNameOrId(BatchesCollection)
	if err != nil {
		return e.InternalServerError("", err)
	}
	b := core.NewRecord(coll)
	b.Set("object", opts.Object)
	b.Set("file", opts.File)
	b.Set("status", "running")
	if err := s.app.Save(b); err != nil {
		return e.InternalServerError("", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{batch: b, cancel: cancel, total: total, status: "running"}
	if opts.As != nil {
		j.user = opts.As.Id
	}
	s.jobs.Store(b.Id, j)
	opts.Batch, opts.Context = b, ctx
	if opts.BatchSize <= 0 {
		// The wizard's progress bar moves, and a cancel takes effect, at each commit: chunks
		// of 1,000 rows keep both prompt (the CLI's default of 5,000 writes less per row).
		opts.BatchSize = webBatchSize
	}
	opts.Progress = func(res *Result, rows int) {
		counts := &Result{Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged, Failed: res.Failed, Related: res.Related, RunsQueued: res.RunsQueued}
		j.mu.Lock()
		j.res, j.rows = counts, rows // a copy: the import goes on changing res
		j.mu.Unlock()
		b.Set("counts", map[string]int{"created": res.Created, "updated": res.Updated,
			"unchanged": res.Unchanged, "failed": res.Failed, "related": res.Related, "runs": res.RunsQueued})
		_ = s.app.Save(b) // the batch record shows the progress to managers too (realtime)
	}
	keep = true
	started = true
	go func() {
		defer release()
		s.runJob(j, tmp, opts)
	}()
	return e.JSON(http.StatusOK, map[string]any{"batch": b.Id, "total": total})
}

// webBatchSize is the rows per transaction of an import job started from the web app.
const webBatchSize = 1000

func (s *Service) runJob(j *job, tmp *os.File, opts ImportOptions) {
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	defer j.cancel()
	var res *Result
	var err error
	if _, err = tmp.Seek(0, io.SeekStart); err == nil {
		res, err = s.Import(tmp, opts)
	}
	var dups int
	var samples []ImportDuplicate
	if res != nil {
		// The import checked its first created rows ([ImportOptions.DuplicateCheck]).
		dups, samples = len(res.Duplicates), res.Duplicates[:min(len(res.Duplicates), 20)]
	}
	j.mu.Lock()
	j.dups, j.samples = dups, samples
	defer j.mu.Unlock()
	if res != nil {
		j.res = res
	}
	j.finished = time.Now()
	switch {
	case errors.Is(err, ErrCancelled):
		j.status = "cancelled"
	case err != nil:
		j.status, j.err = "failed", err.Error()
		if j.batch.GetString("status") == "running" {
			j.batch.Set("status", "failed")
			j.batch.Set("error", truncate(err.Error(), 2000))
			_ = s.app.Save(j.batch)
		}
	default:
		j.status = "done"
	}
	s.forgetOldJobs()
}

// forgetOldJobs drops finished jobs older than jobKeep.
func (s *Service) forgetOldJobs() {
	s.jobs.Range(func(k, v any) bool {
		j := v.(*job)
		if !j.finished.IsZero() && time.Since(j.finished) > jobKeep {
			s.jobs.Delete(k)
		}
		return true
	})
}

// countRows counts the data rows of f (read from its start).
func countRows(f *os.File, opts ReadOptions) (int, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	tab, err := Open(f, opts)
	if err != nil {
		return 0, err
	}
	defer tab.Close()
	n := 0
	for {
		_, _, err := tab.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil && !errors.Is(err, errBadRow) {
			return n, err
		}
		n++
	}
}

// jobOf returns the job of the request's batch if the caller started it (or is a superuser).
func (s *Service) jobOf(e *core.RequestEvent) (*job, error) {
	v, ok := s.jobs.Load(e.Request.PathValue("batch"))
	if !ok {
		return nil, e.NotFoundError("No such import job (finished jobs are kept for an hour).", nil)
	}
	j := v.(*job)
	if e.HasSuperuserAuth() {
		return j, nil
	}
	if e.Auth == nil || e.Auth.Collection().Name != schemas.UsersCollection || e.Auth.Id != j.user {
		return nil, e.NotFoundError("No such import job (finished jobs are kept for an hour).", nil)
	}
	return j, nil
}

// handleImportJob serves GET /api/relata/import-jobs/{batch}: the job's status and counts.
func (s *Service) handleImportJob(e *core.RequestEvent) error {
	j, err := s.jobOf(e)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, j.view())
}

// handleCancelJob serves POST /api/relata/import-jobs/{batch}/cancel: the import stops after
// its current chunk; what was written stays (undo the batch to remove it).
func (s *Service) handleCancelJob(e *core.RequestEvent) error {
	j, err := s.jobOf(e)
	if err != nil {
		return err
	}
	j.cancel()
	return e.JSON(http.StatusOK, j.view())
}

// handleImportJobFailed serves GET /api/relata/import-jobs/{batch}/failed: the failed rows as CSV
// (Row, the file's columns, Reason).
func (s *Service) handleImportJobFailed(e *core.RequestEvent) error {
	j, err := s.jobOf(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	res, file := j.res, j.batch.GetString("file")
	j.mu.Unlock()
	if res == nil {
		res = &Result{}
	}
	return writeFailedCSV(e, res, file)
}

// writeFailedCSV answers the failed rows of res as a CSV attachment, each with its reason.
func writeFailedCSV(e *core.RequestEvent, res *Result, file string) error {
	e.Response.Header().Set("Content-Type", "text/csv; charset=utf-8")
	e.Response.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "failed-"+file+".csv"))
	w := csv.NewWriter(e.Response)
	_ = w.Write(append([]string{"Row"}, append(res.Header, "Reason")...))
	for _, fr := range res.FailedRows {
		cells := make([]string, len(res.Header))
		for i := range cells {
			if i < len(fr.Cells) {
				cells[i] = Neutralize(fr.Cells[i])
			}
		}
		_ = w.Write(append([]string{fmt.Sprint(fr.Row)}, append(cells, Neutralize(fr.Reason))...))
	}
	w.Flush()
	return w.Error()
}
