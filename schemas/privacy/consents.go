package privacy

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// ConsentCount is how many consents were given through one form.
type ConsentCount struct {
	Form  string `json:"form"`
	Count int    `json:"count"`
}

// ConsentCounts counts the consents c may list, by the form they were given through, in one
// grouped query under c's list rule of consents (the REST API's): a sales rep, who may list
// none, gets none. The privacy page shows them; it used to read every consent to count them.
func ConsentCounts(app core.App, c schemas.Caller) ([]ConsentCount, error) {
	coll, err := app.FindCachedCollectionByNameOrId(consentsCollection)
	if err != nil {
		return nil, err
	}
	q, err := schemas.ListQuery(app, coll, c)
	if err != nil {
		return nil, err
	}
	out := []ConsentCount{}
	err = q.Select("[["+consentsCollection+".form]] AS form", "COUNT(DISTINCT [["+consentsCollection+".id]]) AS count").
		GroupBy(consentsCollection + ".form").OrderBy("form").All(&out)
	return out, err
}

// apiConsents answers GET /api/relata/privacy/consents: {"forms": [{"form", "count"}, …]}.
func (s *Service) apiConsents(re *core.RequestEvent) error {
	info, err := re.RequestInfo()
	if err != nil {
		return err
	}
	counts, err := ConsentCounts(s.app, schemas.Request(info))
	if errors.Is(err, schemas.ErrForbidden) {
		return re.ForbiddenError(err.Error(), nil)
	}
	if err != nil {
		return err
	}
	return re.JSON(http.StatusOK, map[string]any{"forms": counts})
}
