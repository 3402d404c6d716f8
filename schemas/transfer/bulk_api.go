package transfer

import (
	"errors"
	"net/http"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
)

// bulkRoutes adds the bulk and reassignment endpoints:
//
//	POST /api/relata/bulk/{object}     BulkOptions as JSON → 202 the job (200 the finished job with dryRun)
//	GET  /api/relata/bulk/{id}         → the job (its starter, admins and superusers)
//	POST /api/relata/bulk/{id}/cancel  → {"cancelled": true} once the running job stops
//	POST /api/relata/bulk/{id}/undo    → 202 the undo job (its starter, admins and superusers; 30 days)
//	POST /api/relata/reassign          ReassignOptions as JSON → 200 {"preview"} with dryRun, else 202 {"job", "preview"}
func (s *Service) bulkRoutes(e *core.ServeEvent) {
	g := e.Router.Group("/api/relata")
	g.POST("/bulk/{object}", s.handleBulk).Bind(apis.RequireAuth())
	g.GET("/bulk/{id}", s.handleJob).Bind(apis.RequireAuth())
	g.POST("/bulk/{id}/cancel", s.handleCancel).Bind(apis.RequireAuth())
	g.POST("/bulk/{id}/undo", s.handleUndoBulk).Bind(apis.RequireAuth())
	g.POST("/reassign", s.handleReassign).Bind(apis.RequireAuth())
}

// refuse turns a bulk or reassignment error into its HTTP answer.
func refuse(e *core.RequestEvent, err error) error {
	var bad *BadRequestError
	if errors.Is(err, ErrBusy) {
		return busyError(e)
	}
	switch {
	case errors.Is(err, ErrNotManager):
		return e.ForbiddenError("Only managers and admins may reassign a rep's records.", nil)
	case errors.Is(err, errForbidden):
		return e.ForbiddenError("You may not change these records.", nil)
	case errors.As(err, &bad):
		return e.BadRequestError(bad.Error(), validation.Errors{bad.Field: validation.NewError("validation_invalid", bad.Message)})
	default:
		return e.InternalServerError("", err)
	}
}

func (s *Service) handleBulk(e *core.RequestEvent) error {
	as, err := actor(e)
	if err != nil {
		return e.ForbiddenError("Only CRM users can change records in bulk.", nil)
	}
	var opts BulkOptions
	if err := e.BindBody(&opts); err != nil {
		return e.BadRequestError("The body must be a JSON object: "+err.Error(), nil)
	}
	opts.Object, opts.As, opts.BatchSize = e.Request.PathValue("object"), as, 0
	if as == nil {
		opts.As = e.Auth // the superuser, for the job's attribution
	}
	if opts.DryRun {
		j, err := s.Bulk(e.Request.Context(), opts)
		if err != nil {
			return refuse(e, err)
		}
		return e.JSON(http.StatusOK, j)
	}
	j, err := s.StartBulk(opts)
	if err != nil {
		return refuse(e, err)
	}
	return e.JSON(http.StatusAccepted, j)
}

func (s *Service) handleJob(e *core.RequestEvent) error {
	j, err := s.Job(e.Request.PathValue("id"), e.Auth)
	if err != nil {
		return e.NotFoundError(err.Error(), nil)
	}
	return e.JSON(http.StatusOK, j)
}

func (s *Service) handleCancel(e *core.RequestEvent) error {
	if !s.Cancel(e.Request.PathValue("id"), e.Auth) {
		return e.NotFoundError("No running job with this id is yours to cancel.", nil)
	}
	return e.JSON(http.StatusOK, map[string]any{"cancelled": true})
}

// handleUndoBulk starts undoing a bulk job or reassignment: 404 for a job that is not the
// caller's to see, 400 for one that cannot be undone (a delete, a dry run, too old, undone).
func (s *Service) handleUndoBulk(e *core.RequestEvent) error {
	if _, err := actor(e); err != nil {
		return e.ForbiddenError("Only CRM users can undo bulk jobs.", nil)
	}
	j, err := s.UndoBulk(e.Request.PathValue("id"), e.Auth)
	if errors.Is(err, ErrNoJob) {
		return e.NotFoundError(err.Error(), nil)
	}
	if err != nil {
		return refuse(e, err)
	}
	return e.JSON(http.StatusAccepted, j)
}

func (s *Service) handleReassign(e *core.RequestEvent) error {
	as, err := actor(e)
	if err != nil {
		return e.ForbiddenError("Only managers and admins may reassign a rep's records.", nil)
	}
	var opts ReassignOptions
	if err := e.BindBody(&opts); err != nil {
		return e.BadRequestError("The body must be a JSON object: "+err.Error(), nil)
	}
	opts.As, opts.BatchSize = as, 0
	if as == nil {
		opts.As = e.Auth
	}
	if opts.DryRun {
		pv, err := s.PreviewReassign(opts)
		if err != nil {
			return refuse(e, err)
		}
		return e.JSON(http.StatusOK, map[string]any{"preview": pv})
	}
	j, pv, err := s.StartReassign(opts)
	if err != nil {
		return refuse(e, err)
	}
	return e.JSON(http.StatusAccepted, map[string]any{"job": j, "preview": pv})
}
