package workflows

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

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
//	DELETE /api/relata/secrets/{name}   204, 404 when there is none, 409 while a workflow uses it
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
	if _, err := schemas.Secret(re.App, name); errors.Is(err, schemas.ErrNoSecret) {
		return re.NotFoundError("No secret "+name+" is stored.", nil)
	}
	users, err := secretUsers(re.App, name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return re.JSON(http.StatusConflict, map[string]any{"status": http.StatusConflict,
			"message": "Secret " + name + " is used by workflows " + strings.Join(users, ", ") + ": change them first.",
			"data":    map[string]any{"workflows": users}})
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

// secretUsers lists the stored workflows whose definitions reference the secret name.
func secretUsers(app core.App, name string) ([]string, error) {
	recs, err := app.FindAllRecords(Collection)
	if err != nil {
		return nil, err
	}
	var users []string
	for _, rec := range recs {
		data, err := jsonBytes(rec.Get("definition"))
		if err != nil {
			continue
		}
		var def any
		if json.Unmarshal(data, &def) == nil && refersTo(def, name) {
			users = append(users, rec.GetString("name"))
		}
	}
	slices.Sort(users)
	return users, nil
}

// refersTo reports whether v holds "secret": {"ref": name} at any depth (actions nest in
// branches).
func refersTo(v any, name string) bool {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["secret"].(map[string]any); ok && s["ref"] == name {
			return true
		}
		for _, e := range x {
			if refersTo(e, name) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if refersTo(e, name) {
				return true
			}
		}
	}
	return false
}
