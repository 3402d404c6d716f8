package campaigns

import (
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Report is what came of a campaign. Counts of emails come from the outbox and the inbox;
// deals are counted as the reader may list them.
type Report struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
	// Audience is the segment's members at send time; Recipients the distinct addresses
	// among them (the rest are Duplicates).
	Audience   int            `json:"audience"`
	Recipients int            `json:"recipients"`
	Duplicates int            `json:"duplicates"`
	Skipped    map[string]int `json:"skipped"`
	Pending    int            `json:"pending"`
	Queued     int            `json:"queued"`
	// Progress is the share of recipients handled (queued or skipped), 0–1.
	Progress float64 `json:"progress"`
	// Emails: Sent by the outbox, Delivered (sent and not bounced), Failed, Suppressed at
	// send time, InFlight (still queued or sending).
	Sent         int `json:"sent"`
	Delivered    int `json:"delivered"`
	Failed       int `json:"failed"`
	Suppressed   int `json:"suppressed"`
	InFlight     int `json:"inFlight"`
	Bounced      int `json:"bounced"`
	Replied      int `json:"replied"`
	Unsubscribed int `json:"unsubscribed"`
	Opened       int `json:"opened"`
	Clicked      int `json:"clicked"`
	// Deals with a recipient among their contacts created (and won) within Days of the start.
	Days         int          `json:"days"`
	DealsCreated int          `json:"dealsCreated"`
	DealsWon     int          `json:"dealsWon"`
	Links        []LinkClicks `json:"links"`
	Daily        []DayCount   `json:"daily"`
}

// LinkClicks is the clicks of one link.
type LinkClicks struct {
	URL    string `json:"url"`
	Clicks int    `json:"clicks"`
}

// DayCount is the opens and clicks of one day.
type DayCount struct {
	Day    string `json:"day"`
	Opens  int    `json:"opens"`
	Clicks int    `json:"clicks"`
}

// Report computes the report of campaign id for reader.
func (s *Service) Report(reader schemas.Caller, id string) (*Report, error) {
	c, err := s.app.FindRecordById(Collection, id)
	if err != nil {
		return nil, err
	}
	db := s.app.DB()
	p := dbx.Params{"c": id}
	r := &Report{ID: id, Name: c.GetString("name"), Status: c.GetString("status"), Audience: c.GetInt("audience"), Skipped: map[string]int{}}
	var rows []struct {
		Status string `db:"status"`
		Reason string `db:"reason"`
		N      int    `db:"n"`
	}
	if err := db.NewQuery(`SELECT status, coalesce(reason, '') AS reason, count(*) AS n FROM campaign_recipients
		WHERE campaign = {:c} GROUP BY status, reason`).Bind(p).All(&rows); err != nil {
		return nil, err
	}
	for _, row := range rows {
		r.Recipients += row.N
		switch row.Status {
		case RecipientPending:
			r.Pending += row.N
		case RecipientQueued:
			r.Queued += row.N
		case RecipientSkipped:
			r.Skipped[row.Reason] += row.N
		}
	}
	if c.GetBool("resolved") {
		r.Duplicates = max(r.Audience-r.Recipients, 0)
	}
	if r.Recipients > 0 {
		r.Progress = float64(r.Recipients-r.Pending) / float64(r.Recipients)
		if !c.GetBool("resolved") {
			// recipients are still being resolved while the first batches go out: not done
			r.Progress = min(r.Progress, 0.99)
		}
	}
	var em struct {
		Sent       int `db:"sent"`
		Failed     int `db:"failed"`
		Suppressed int `db:"suppressed"`
		InFlight   int `db:"inflight"`
		Bounced    int `db:"bounced"`
		Replied    int `db:"replied"`
	}
	err = db.NewQuery(`SELECT
		coalesce(sum(e.status = 'sent'), 0) AS sent,
		coalesce(sum(e.status = 'failed'), 0) AS failed,
		coalesce(sum(e.status = 'suppressed'), 0) AS suppressed,
		coalesce(sum(e.status IN ('queued', 'sending')), 0) AS inflight,
		coalesce(sum(coalesce(e.bounced_at, '') != ''), 0) AS bounced,
		coalesce(sum(coalesce(e.replied_at, '') != ''), 0) AS replied
		FROM campaign_recipients r JOIN emails e ON e.id = r.email_id WHERE r.campaign = {:c}`).Bind(p).One(&em)
	if err != nil {
		return nil, err
	}
	r.Sent, r.Failed, r.Suppressed, r.InFlight, r.Bounced, r.Replied = em.Sent, em.Failed, em.Suppressed, em.InFlight, em.Bounced, em.Replied
	r.Delivered = max(r.Sent-r.Bounced, 0)
	for q, dst := range map[string]*int{
		`SELECT count(*) FROM campaign_recipients WHERE campaign = {:c} AND coalesce(opened_at, '') != ''`:  &r.Opened,
		`SELECT count(*) FROM campaign_recipients WHERE campaign = {:c} AND coalesce(clicked_at, '') != ''`: &r.Clicked,
		`SELECT count(DISTINCT s.email) FROM email_suppressions s JOIN campaign_recipients r ON s.source = 'unsubscribe link of email ' || r.email_id
			WHERE r.campaign = {:c} AND r.email_id != '' AND s.reason = 'unsubscribe'`: &r.Unsubscribed,
	} {
		if err := db.NewQuery(q).Bind(p).Row(dst); err != nil {
			return nil, err
		}
	}
	if err := db.NewQuery(`SELECT url, count(*) AS clicks FROM campaign_events WHERE campaign = {:c} AND type = 'click'
		GROUP BY url ORDER BY clicks DESC, url LIMIT 20`).Bind(p).All(&r.Links); err != nil {
		return nil, err
	}
	if err := db.NewQuery(`SELECT substr(created, 1, 10) AS day, sum(type = 'open') AS opens, sum(type = 'click') AS clicks
		FROM campaign_events WHERE campaign = {:c} GROUP BY day ORDER BY day`).Bind(p).All(&r.Daily); err != nil {
		return nil, err
	}
	r.Days = c.GetInt("report_days")
	if r.Days <= 0 {
		r.Days = 30
	}
	if start := c.GetDateTime("started_at").Time(); !start.IsZero() {
		if err := s.deals(reader, c, start, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// deals counts the deals, as reader may list them, with a queued recipient among their
// contacts, created (or won) within r.Days of start.
func (s *Service) deals(reader schemas.Caller, c *core.Record, start time.Time, r *Report) error {
	obj, ok := s.cfg.Registry.Object("deals")
	if !ok || obj.Field("contacts") == nil {
		return nil
	}
	coll, err := s.app.FindCachedCollectionByNameOrId(obj.Name)
	if err != nil {
		return nil
	}
	scope, params, err := schemas.ListScope(s.app, coll, reader)
	if err != nil {
		return nil // the reader lists no deals: none counted
	}
	if params == nil {
		params = dbx.Params{}
	}
	params["c"] = c.Id
	params["from"] = dbTime(start)
	params["to"] = dbTime(start.Add(time.Duration(r.Days) * 24 * time.Hour))
	where := `EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(d.contacts) THEN d.contacts ELSE '[]' END) j
		WHERE j.value IN (SELECT contact FROM campaign_recipients WHERE campaign = {:c} AND status = 'queued'))`
	if scope != "" {
		where += " AND d.id IN (" + scope + ")"
	}
	q := "SELECT count(*) FROM {{" + obj.Name + "}} d WHERE " + where + " AND d.created >= {:from} AND d.created < {:to}"
	if err := s.app.DB().NewQuery(q).Bind(params).Row(&r.DealsCreated); err != nil {
		return fmt.Errorf("count deals: %w", err)
	}
	var won []string
	stageField := ""
	for _, f := range obj.Fields {
		if f.Type == schemas.TypeStage {
			stageField = f.Name
			for _, p := range obj.Pipelines {
				if p.Name != f.Pipeline {
					continue
				}
				for _, st := range p.Stages {
					if st.Won {
						won = append(won, "'"+strings.ReplaceAll(st.Name, "'", "''")+"'")
					}
				}
			}
			break
		}
	}
	if stageField == "" || len(won) == 0 {
		return nil
	}
	closed := "d.updated"
	if obj.Field("closed_at") != nil {
		closed = "coalesce(nullif(d.closed_at, ''), d.updated)"
	}
	q = "SELECT count(*) FROM {{" + obj.Name + "}} d WHERE " + where + " AND d.[[" + stageField + "]] IN (" + strings.Join(won, ", ") +
		") AND " + closed + " >= {:from} AND " + closed + " < {:to}"
	if err := s.app.DB().NewQuery(q).Bind(params).Row(&r.DealsWon); err != nil {
		return fmt.Errorf("count won deals: %w", err)
	}
	return nil
}
