package segments

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// Campaign collections named here, not imported: workflows/campaigns sits above schemas.
const (
	campaignsCollection = "campaigns"
	eventsCollection    = "campaign_events"
)

// Engagement events a segment can select contacts by (campaign_events.type).
const (
	EventOpen   = "open"
	EventClick  = "click"
	EventReply  = "reply"
	EventBounce = "bounce"
)

// Events lists the engagement events a condition may name.
var Events = []string{EventOpen, EventClick, EventReply, EventBounce}

// MaxEngagement is how many engagement conditions a segment may have; MaxEngagementDays how
// far back one may look.
const (
	MaxEngagement     = 10
	MaxEngagementDays = 3650
)

// Engagement is one condition of a dynamic segment on what a contact did with campaign
// emails: contacts that opened, clicked, replied to or bounced from a campaign (any, or the
// one named), optionally within the last Days days; with Not, contacts that did not. Every
// condition must hold (AND), as the filter's conditions do.
type Engagement struct {
	Event    string `json:"event"`
	Campaign string `json:"campaign,omitempty"`
	Days     int    `json:"days,omitempty"`
	Not      bool   `json:"not,omitempty"`
}

// ParseEngagement reads a segment's engagement field (JSON: a list of conditions). Errors
// name the condition by JSON pointer (/engagement/1/event).
func ParseEngagement(raw []byte) ([]Engagement, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var out []Engagement
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("%w: /engagement: %v (a list of {\"event\", \"campaign\", \"days\", \"not\"})", ErrInvalid, err)
	}
	if err := checkShape(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkShape checks what does not need the database.
func checkShape(conds []Engagement) error {
	if len(conds) > MaxEngagement {
		return fmt.Errorf("%w: /engagement: %d conditions, at most %d", ErrInvalid, len(conds), MaxEngagement)
	}
	for i, e := range conds {
		if !slices.Contains(Events, e.Event) {
			return fmt.Errorf("%w: /engagement/%d/event: %q is not one of %s", ErrInvalid, i, e.Event, strings.Join(Events, ", "))
		}
		if e.Days < 0 || e.Days > MaxEngagementDays {
			return fmt.Errorf("%w: /engagement/%d/days: %d is not between 0 (any time) and %d", ErrInvalid, i, e.Days, MaxEngagementDays)
		}
	}
	return nil
}

// CheckEngagement checks conditions for c: their shape, and that c may view each campaign
// named (a sales user, who sees no campaign, may still select contacts by what they did
// with any campaign).
func CheckEngagement(app core.App, c schemas.Caller, conds []Engagement) error {
	if err := checkShape(conds); err != nil {
		return err
	}
	for i, e := range conds {
		if e.Campaign == "" {
			continue
		}
		camp, err := app.FindRecordById(campaignsCollection, e.Campaign)
		if err == nil {
			var ok bool
			if ok, err = c.CanView(app, camp); err == nil && !ok {
				err = fmt.Errorf("not visible")
			}
		}
		if err != nil {
			return fmt.Errorf("%w: /engagement/%d/campaign: no campaign %q you may view", ErrInvalid, i, e.Campaign)
		}
	}
	return nil
}

// withEngagement adds conds to a query over contacts (already limited to what its caller may
// list): one correlated EXISTS per condition on campaign_events of the row's contact, read
// through idx_campaign_events_engagement (contact, type, created) — a seek per contact in
// scope, never a scan of the events (TestEngagementUsesIndex checks the plan). Events are
// read only for contacts the query already holds; nothing crosses a relation of the filter.
func withEngagement(q *dbx.SelectQuery, conds []Engagement, now time.Time) *dbx.SelectQuery {
	for i, e := range conds {
		p := dbx.Params{}
		name := func(k string) string { return fmt.Sprintf("eng%d_%s", i, k) }
		var sb strings.Builder
		sb.WriteString("EXISTS (SELECT 1 FROM {{" + eventsCollection + "}} [[ce]] WHERE [[ce.contact]] = {{" + Object + "}}.[[id]]")
		sb.WriteString(" AND [[ce.type]] = {:" + name("type") + "}")
		p[name("type")] = e.Event
		if e.Days > 0 {
			sb.WriteString(" AND [[ce.created]] >= {:" + name("since") + "}")
			p[name("since")] = now.Add(-time.Duration(e.Days) * 24 * time.Hour).UTC().Format(types.DefaultDateLayout)
		}
		if e.Campaign != "" {
			sb.WriteString(" AND [[ce.campaign]] = {:" + name("campaign") + "}")
			p[name("campaign")] = e.Campaign
		}
		sb.WriteString(")")
		exp := sb.String()
		if e.Not {
			exp = "NOT " + exp
		}
		q = q.AndWhere(dbx.NewExp(exp, p))
	}
	return q
}

// engagementOf reads a segment's conditions; a stored value that no longer parses makes the
// segment fail to evaluate, with the reason (never silently select everyone).
func engagementOf(seg *core.Record) ([]Engagement, error) {
	raw, _ := seg.GetRaw("engagement").(types.JSONRaw)
	conds, err := ParseEngagement(raw)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", seg.GetString("name"), err)
	}
	return conds, nil
}
