package workflows

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/relata/relata/schemas"
)

// secretRoutes adds the write-only API of the secret store that webhook definitions
// reference by name ({"ref": "NAME"}), for the same users as the workflow builder (admins,
// managers, superusers). No endpoint returns a value:
//
//	GET    /api/relata/secrets          [{"name", "encrypted", "updated"}]
//	PUT    /api/relata/secrets/{name}   {"value": "..."}  sets or replaces; 204
//	DELETE /api/relata/secrets/{name}   204, or 404 when there is none
func (e *Engine) secretRoutes(g *router.RouterGroup[*core.RequestEvent]) {
	g.GET("/secrets", e.apiSecrets)
	g.PUT("/secrets/{name}", e.apiSetSecret)
	g.DELETE("/secrets/{name}", e.apiDeleteSecret)
}

func (e *Engine) apiSecrets(re *core.RequestEvent) error {
	list, err := schemas.Secrets(re.App)
	if err != nil {
		return err
	}
	return re.JSON(http.StatusOK, list)
}

func (e *Engine) apiSetSecret(re *core.RequestEvent) error {
	name := re.Request.PathValue("name")
	if err := schemas.CheckSecretName(name); err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	var body struct {
		Value *string `json:"value"`
	}
	if err := re.BindBody(&body); err != nil || body.Value == nil {
		return re.BadRequestError(`The body must be {"value": "..."}.`, nil)
	}
	if err := schemas.SetSecret(re.App, name, *body.Value); err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	re.App.Logger().Info("relata: secret set", "name", name, "by", actorOf(re))
	return re.NoContent(http.StatusNoContent)
}

func (e *Engine) apiDeleteSecret(re *core.RequestEvent) error {
	name := re.Request.PathValue("name")
	if err := schemas.CheckSecretName(name); err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	if err := schemas.DeleteSecret(re.App, name); errors.Is(err, schemas.ErrNoSecret) {
		return re.NotFoundError("No secret "+name+" is stored.", nil)
	} else if err != nil {
		return err
	}
	re.App.Logger().Info("relata: secret deleted", "name", name, "by", actorOf(re))
	return re.NoContent(http.StatusNoContent)
}

func actorOf(re *core.RequestEvent) string {
	if re.Auth == nil {
		return ""
	}
	return re.Auth.Collection().Name + "/" + re.Auth.Id
}
