package campaigns

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/outbox"
)

// gif is a transparent 1×1 GIF.
var gif = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

func (s *Service) routes(se *core.ServeEvent) {
	g := se.Router.Group("/api/relata/campaigns")
	g.Bind(apis.RequireAuth(), &hook.Handler[*core.RequestEvent]{Id: "relata.campaigns.managers", Func: requireManager})
	g.POST("/{id}/send", s.action(s.Send))
	g.POST("/{id}/pause", s.action(s.Pause))
	g.POST("/{id}/resume", s.action(s.Resume))
	g.POST("/{id}/cancel", s.action(s.Cancel))
	g.GET("/{id}/report", s.apiReport)
	se.Router.GET(ClickPath+"{token}", s.apiClick)
	se.Router.GET(OpenPath+"{token}", s.apiOpen)
}

func requireManager(re *core.RequestEvent) error {
	if re.HasSuperuserAuth() {
		return re.Next()
	}
	if re.Auth.Collection().Name == schemas.UsersCollection {
		if role := re.Auth.GetString("role"); role == schemas.RoleAdmin || role == schemas.RoleManager {
			return re.Next()
		}
	}
	return re.ForbiddenError("Only admins and managers work with campaigns.", nil)
}

func (s *Service) action(f func(string) error) func(*core.RequestEvent) error {
	return func(re *core.RequestEvent) error {
		id := re.Request.PathValue("id")
		if _, err := s.app.FindRecordById(Collection, id); err != nil {
			return re.NotFoundError("No such campaign.", nil)
		}
		err := f(id)
		switch {
		case err == nil:
		case errors.Is(err, ErrState), errors.Is(err, ErrInvalid), errors.Is(err, outbox.ErrTemplateNotFound), errors.Is(err, segments.ErrInvalid):
			return re.BadRequestError(err.Error(), nil)
		default:
			return err
		}
		c, err := s.app.FindRecordById(Collection, id)
		if err != nil {
			return err
		}
		return re.JSON(http.StatusOK, c)
	}
}

func (s *Service) apiReport(re *core.RequestEvent) error {
	info, err := re.RequestInfo()
	if err != nil {
		return err
	}
	r, err := s.Report(schemas.Request(info), re.Request.PathValue("id"))
	if err != nil {
		return re.NotFoundError("No such campaign.", nil)
	}
	return re.JSON(http.StatusOK, r)
}

func (s *Service) apiClick(re *core.RequestEvent) error {
	target, err := s.Click(re.Request.PathValue("token"))
	if errors.Is(err, ErrBadLink) {
		return re.NotFoundError("This link is not valid.", nil)
	}
	if err != nil {
		s.app.Logger().Error("relata: record a click", "error", err)
	}
	return re.Redirect(http.StatusFound, target)
}

func (s *Service) apiOpen(re *core.RequestEvent) error {
	if err := s.Open(re.Request.PathValue("token")); err != nil && !errors.Is(err, ErrBadLink) {
		s.app.Logger().Error("relata: record an open", "error", err)
	}
	re.Response.Header().Set("Cache-Control", "no-store")
	return re.Blob(http.StatusOK, "image/gif", gif)
}
