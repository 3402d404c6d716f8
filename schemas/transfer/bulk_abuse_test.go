package transfer_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// TestBulkPreviewTakesASlot: a bulk dry run (the dialog's Preview), the import wizard's
// preview and a reassignment's preview load and check records as the real work does,
// synchronously in the request; a user who already runs MaxBusyPerUser heavy requests gets
// 429 for them too, instead of running any number side by side — and for a reassignment,
// before it reads anything. Once her work ends they are served again.
func TestBulkPreviewTakesASlot(t *testing.T) {
	e := newEnv(t)
	e.seedContacts(t)
	requests := []struct {
		name string
		do   func() (int, string)
	}{
		{"alice's bulk dry run", func() (int, string) {
			var out map[string]any
			code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/contacts", e.aliceTok,
				map[string]any{"action": "update", "all": true, "field": "job_title", "value": "Busy", "dryRun": true}, &out)
			return code, jsonText(out)
		}},
		{"alice's import preview", func() (int, string) {
			code, body := e.postImport(t, "/api/relata/import/contacts/preview", e.aliceTok, "busy.csv",
				"Full name,Email\nBusy Person,busy@example.com\n", nil)
			return code, string(body)
		}},
		{"manager's reassign preview", func() (int, string) {
			var out map[string]any
			code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/reassign", e.mgrTok,
				map[string]any{"from": "alice@example.com", "to": []string{"bob@example.com"}, "dryRun": true}, &out)
			return code, jsonText(out)
		}},
		{"manager's reassign", func() (int, string) {
			var out map[string]any
			code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/reassign", e.mgrTok,
				map[string]any{"from": "alice@example.com", "to": []string{"bob@example.com"}}, &out)
			if code == http.StatusAccepted {
				code = http.StatusOK // a job started
			}
			return code, jsonText(out)
		}},
	}
	var frees []func()
	for _, u := range []*core.Record{e.alice, e.mgr} {
		free, err := e.svc.Occupy(u, transfer.MaxBusyPerUser)
		if err != nil {
			t.Fatal(err)
		}
		frees = append(frees, free)
	}
	for _, r := range requests {
		if code, body := r.do(); code != http.StatusTooManyRequests {
			t.Errorf("%s with every slot taken = %d %s; want 429", r.name, code, body)
		}
	}
	// The slot is taken before the upload is read: a busy user's file (up to 200 MB) is
	// refused unread — here a request without one gets 429, not "send the spreadsheet".
	for _, path := range []string{"/api/relata/import/contacts", "/api/relata/import/contacts/preview", "/api/relata/import/contacts/start"} {
		if code := schemastest.Call(t, e.srv, http.MethodPost, path, e.aliceTok, nil, nil); code != http.StatusTooManyRequests {
			t.Errorf("alice's POST %s without a file, every slot taken = %d; want 429", path, code)
		}
	}
	for _, free := range frees {
		free()
	}
	for _, r := range requests {
		if code, body := r.do(); code != http.StatusOK {
			t.Errorf("%s once the user's work ended = %d %s; want 200", r.name, code, body)
		}
	}
}

// TestBulkRequestTooLargeIsA400: a bulk request whose value, tags or filter is too large to
// be recorded with its job answers 400 naming the field, not 500, and records no job.
func TestBulkRequestTooLargeIsA400(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", 70<<10)
	scenarios := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"a 70 KiB value", map[string]any{"action": "update", "ids": []string{e.acme.Id}, "field": "notes", "value": big}, "value"},
		{"70 KiB of tags", map[string]any{"action": "addTags", "ids": []string{e.acme.Id}, "field": "tags", "tags": []string{big}}, "tags"},
		{"a 70 KiB filter", map[string]any{"action": "update", "all": true, "field": "industry", "value": "",
			"filter": `name != "` + big + `"`}, "filter"},
	}
	for _, sc := range scenarios {
		for _, dry := range []bool{false, true} {
			sc.body["dryRun"] = dry
			var out struct {
				Message string
				Data    map[string]any
			}
			code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/companies", e.aliceTok, sc.body, &out)
			if code != 400 || out.Data[sc.field] == nil {
				t.Errorf("%s (dry run %t) = %d %q %v; want 400 naming %s", sc.name, dry, code, out.Message, out.Data, sc.field)
			}
		}
	}
	if n := e.count(t, transfer.BulkJobsCollection); n != 0 {
		t.Errorf("%d jobs recorded for refused requests", n)
	}
}
