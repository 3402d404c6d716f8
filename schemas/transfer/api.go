package transfer

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// maxUpload bounds an uploaded import file.
const maxUpload = 200 << 20

func (s *Service) routes(e *core.ServeEvent) {
	g := e.Router.Group("/api/relata")
	g.GET("/export/{object}", s.handleExport).Bind(apis.RequireAuth())
	g.POST("/import/{object}", s.handleImport).Bind(apis.RequireAuth(), apis.BodyLimit(maxUpload))
	s.jobRoutes(g)
}

// actor returns the CRM user of a request, or nil for a superuser.
func actor(e *core.RequestEvent) (*core.Record, error) {
	if e.HasSuperuserAuth() {
		return nil, nil
	}
	if e.Auth == nil || e.Auth.Collection().Name != schemas.UsersCollection {
		return nil, errForbidden
	}
	return e.Auth, nil
}

// handleExport serves GET /api/relata/export/{object}?filter=&sort=&fields=&format=.
func (s *Service) handleExport(e *core.RequestEvent) error {
	as, err := actor(e)
	if err != nil {
		return e.ForbiddenError("Only CRM users can export records.", nil)
	}
	release, err := s.acquire(as)
	if err != nil {
		return busyError(e)
	}
	defer release()
	q := e.Request.URL.Query()
	opts := ExportOptions{Object: e.Request.PathValue("object"), Filter: q.Get("filter"), Sort: q.Get("sort"), Format: q.Get("format"), As: as,
		Context: e.Request.Context()} // a client that goes away stops the export
	if f := q.Get("fields"); f != "" {
		opts.Fields = strings.Split(f, ",")
	}
	x, err := s.prepareExport(opts)
	if errors.Is(err, errForbidden) {
		return e.ForbiddenError("You may not list these records.", nil)
	}
	if err != nil {
		return e.BadRequestError("Cannot export: "+err.Error(), nil)
	}
	// A query that fails must be a 400, not an empty file after a 200.
	var probe []string
	if err := x.q.Select(x.coll.Name + ".id").Limit(1).Column(&probe); err != nil {
		return e.BadRequestError("Cannot export: "+err.Error(), nil)
	}
	x.q.Limit(-1)
	name := opts.Object + "." + x.opts.Format
	if x.opts.Format == FormatXLSX {
		e.Response.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	} else {
		e.Response.Header().Set("Content-Type", "text/csv; charset=utf-8")
	}
	e.Response.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	e.Response.WriteHeader(http.StatusOK)
	_, err = x.write(e.Response)
	return err
}

// handleImport serves POST /api/relata/import/{object}: a multipart form with "file" and
// optional "mapping" (JSON object column -> field), "key", "mode", "sheet", "dryRun",
// "createMissing", "workflows", "dateOrder", "decimal". It answers the summary with the
// per-row errors, or with ?failed=csv the failed rows as CSV with a Reason column.
func (s *Service) handleImport(e *core.RequestEvent) error {
	file, opts, release, err := s.importRequest(e)
	if err != nil {
		return err
	}
	defer release()
	defer file.Close()
	res, err := s.Import(file, opts)
	if err != nil && res == nil {
		return importError(e, opts, err)
	}
	if err != nil {
		return e.InternalServerError("The import stopped: "+err.Error(), nil)
	}
	if e.Request.URL.Query().Get("failed") == "csv" {
		return writeFailedCSV(e, res, opts.File)
	}
	return e.JSON(http.StatusOK, map[string]any{
		"batch": res.Batch, "dryRun": res.DryRun, "created": res.Created, "updated": res.Updated,
		"unchanged": res.Unchanged, "failed": res.Failed, "related": res.Related, "runsQueued": res.RunsQueued, "mapping": res.Mapping,
		"ignored": res.Ignored, "errors": res.ErrorList(), "failedRows": res.FailedRows,
	})
}
