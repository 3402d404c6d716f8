package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// TestLinksMustBeViewable reproduces finding 2a: alice linked contacts and deals she cannot
// view to her own records, then binary-searched their fields through the link. Every newly
// set relation id, of every object (the custom projects included), through REST and batch,
// must now be a record the caller may view.
func TestLinksMustBeViewable(t *testing.T) {
	e := newSeededEnv(t)
	first := func(collection, owner string) *core.Record {
		t.Helper()
		rec, err := e.app.FindFirstRecordByFilter(collection, "owner = {:o}", dbx.Params{"o": owner})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	aliceDeal := first("deals", alice)
	carolDeal := first("deals", carol)
	carolContact := first("contacts", carol)
	bobDeal := first("deals", "usrbob000000001")
	aliceProject := first("projects", alice)

	settings := e.app.Settings()
	settings.Batch.Enabled = true
	settings.Batch.MaxRequests = 10
	if err := e.app.Save(settings); err != nil {
		t.Fatal(err)
	}

	// an old link made by someone who could see both stays editable around it
	mine, err := e.app.FindRecordsByFilter("deals", "owner = {:o} && id != {:d}", "", 1, 0, dbx.Params{"o": alice, "d": aliceDeal.Id})
	if err != nil || len(mine) != 1 {
		t.Fatal(err)
	}
	kept := mine[0]
	kept.Set("contacts", []string{carolContact.Id})
	if err := e.app.Save(kept); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		user   string
		method string
		path   string
		body   any
		status int
		field  string // the field the 400 must name
	}{
		{"sales links another team's contact to her deal", alice, http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id,
			map[string]any{"contacts+": carolContact.Id}, 400, "contacts"},
		{"sales logs an activity on a teammate's deal she cannot view", alice, http.MethodPost, "/api/collections/activities/records",
			map[string]any{"type": "note", "subject": "probe", "deal": bobDeal.Id, "owner": alice}, 400, "deal"},
		{"sales links another's deal to her custom project", alice, http.MethodPatch, "/api/collections/projects/records/" + aliceProject.Id,
			map[string]any{"deals+": carolDeal.Id}, 400, "deals"},
		{"an id that does not exist gets the same answer", alice, http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id,
			map[string]any{"contacts+": "nosuchcontact00"}, 400, "contacts"},
		{"sales links a company (everyone sees them)", alice, http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id,
			map[string]any{"company": "cmp000000000030"}, 200, ""},
		{"an existing link is not checked again", alice, http.MethodPatch, "/api/collections/deals/records/" + kept.Id,
			map[string]any{"description": "still mine"}, 200, ""},
		{"batch create is checked too", alice, http.MethodPost, "/api/batch",
			map[string]any{"requests": []map[string]any{{"method": "POST", "url": "/api/collections/activities/records",
				"body": map[string]any{"type": "note", "subject": "probe", "deal": carolDeal.Id, "owner": alice}}}}, 400, "deal"},
		{"a manager links any record", manager, http.MethodPatch, "/api/collections/deals/records/" + aliceDeal.Id,
			map[string]any{"contacts+": carolContact.Id}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out map[string]any
			st := callJSON(t, e, tt.method, tt.path, e.tokens[tt.user], tt.body, &out)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %v", st, tt.status, out)
			}
			if tt.field != "" {
				body := jsonText(out)
				if !strings.Contains(body, `"`+tt.field+`"`) || !strings.Contains(body, "you may view") {
					t.Errorf("the 400 does not name %q and say why: %s", tt.field, body)
				}
			}
		})
	}
}
