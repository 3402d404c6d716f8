package campaigns

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
)

// ErrInvalid is wrapped by errors about a campaign's fields that cannot be sent as written.
var ErrInvalid = errors.New("invalid campaign")

// consentBases reads a campaign's consent_bases: a JSON list of legal bases of the consents
// collection's basis field, or empty (null, []) for none. Anything else — a string, an
// object, a basis that no consent can have — is an error naming the field: read as empty it
// would be the loosest rule, and mail contacts the campaign was meant to leave out.
func consentBases(app core.App, c *core.Record) ([]string, error) {
	raw, err := json.Marshal(c.Get("consent_bases"))
	if err != nil {
		return nil, fmt.Errorf("%w: consent_bases: %v", ErrInvalid, err)
	}
	if s := strings.TrimSpace(string(raw)); s == "" || s == "null" {
		return nil, nil
	}
	var bases []string
	if err := json.Unmarshal(raw, &bases); err != nil {
		return nil, fmt.Errorf("%w: consent_bases: %s is not a list of legal bases", ErrInvalid, clip(string(raw)))
	}
	allowed, err := legalBases(app)
	if err != nil {
		return nil, err
	}
	for i, b := range bases {
		if !slices.Contains(allowed, b) {
			return nil, fmt.Errorf("%w: consent_bases/%d: %q is not one of %s", ErrInvalid, i, b, strings.Join(allowed, ", "))
		}
	}
	return bases, nil
}

// legalBases returns the values of the consents collection's basis field.
func legalBases(app core.App) ([]string, error) {
	coll, err := app.FindCachedCollectionByNameOrId("consents")
	if err != nil {
		return nil, fmt.Errorf("read the legal bases of consents: %w", err)
	}
	f, ok := coll.Fields.GetByName("basis").(*core.SelectField)
	if !ok {
		return nil, errors.New("the consents collection has no basis field")
	}
	return f.Values, nil
}

// checkCampaign refuses a campaign whose consent_bases is not a list of legal bases, with a
// 400 on the field.
func checkCampaign(e *core.RecordEvent) error {
	if _, err := consentBases(e.App, e.Record); err != nil {
		if !errors.Is(err, ErrInvalid) {
			return err
		}
		msg := err.Error()
		return apis.NewBadRequestError(msg, map[string]any{"consent_bases": map[string]string{"code": "invalid", "message": msg}})
	}
	return e.Next()
}
