package forms_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// fuzzObject has a field of every type a form can show.
const fuzzObject = `{
  "name": "fuzz_requests", "label": {"singular": "Request", "plural": "Requests"}, "titleField": "subject",
  "fields": [
    {"name": "subject", "type": "text", "required": true, "max": 100},
    {"name": "email", "type": "email"},
    {"name": "phone", "type": "phone"},
    {"name": "website", "type": "url"},
    {"name": "budget", "type": "number", "min": 0, "max": 1000000},
    {"name": "amount", "type": "currency", "currency": "EUR", "min": 0},
    {"name": "start", "type": "date"},
    {"name": "call_at", "type": "datetime"},
    {"name": "size", "type": "select", "options": ["small", "medium", {"value": "large", "label": "Large"}]},
    {"name": "interests", "type": "select", "multiple": true, "options": ["crm", "email", "forms"]},
    {"name": "newsletter", "type": "boolean"},
    {"name": "topics", "type": "tags"},
    {"name": "brief", "type": "file", "showInForms": true, "maxSize": 2000, "mimeTypes": ["text/plain"]},
    {"name": "details", "type": "longtext", "max": 2000},
    {"name": "code", "type": "text", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
    {"name": "owner", "type": "owner"},
    {"name": "score", "type": "number", "showInForms": false}
  ],
  "access": {"scope": "owner"}
}`

// fuzzForms: a lead form on contacts (consent, dedupe, honeypot) and a form with every type.
var fuzzForms = map[string]string{
	"fuzz-lead.json": `{"slug": "fuzz-lead", "title": "Lead", "object": "contacts",
	  "fields": [{"name": "full_name"}, {"name": "email", "required": true}, {"name": "phone"}, {"name": "job_title"},
	    {"name": "source"}, {"name": "message", "required": true}],
	  "hidden": {"lifecycle_stage": "lead"},
	  "consent": {"text": "You may contact me.", "version": "v1", "required": true},
	  "dedupe": {"by": "email", "update": ["message"], "fill": ["full_name", "phone"]},
	  "spam": {"honeypot": "homepage", "minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0, "maxBodyBytes": 20000}}`,
	"fuzz-every.json": `{"slug": "fuzz-every", "title": "Every type", "object": "fuzz_requests",
	  "fields": [{"name": "subject"}, {"name": "email"}, {"name": "phone"}, {"name": "website"}, {"name": "budget"},
	    {"name": "amount"}, {"name": "start"}, {"name": "call_at"}, {"name": "size", "required": true}, {"name": "interests"},
	    {"name": "newsletter"}, {"name": "topics"}, {"name": "brief"}, {"name": "details"}, {"name": "code"}],
	  "hidden": {"score": 1},
	  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`,
}

const fuzzBoundary = "FUZZBOUNDARY"

// FuzzSubmit posts fuzzed bodies — JSON, URL-encoded and multipart — to the submission
// handler (POST /api/relata/forms/{slug}, through PocketBase's router in process) and checks
// what the forms promise: the answer is 200 or a 4xx with JSON errors, never a 5xx or a
// panic; a refused submission stores nothing; an accepted one stores one submission and at
// most one new record.
//
//	go test -run '^$' -fuzz '^FuzzSubmit$' -fuzztime 1m ./schemas/forms/
func FuzzSubmit(f *testing.F) {
	seeds := []struct {
		form, kind uint8
		body       string
	}{
		{0, 0, `{"full_name": "Ada", "email": "ada@example.com", "message": "Hi", "_consent": true, "job_title": "CEO"}`},
		{0, 0, `{"full_name": "Ada L", "email": "ADA@example.com", "message": "again", "_consent": true, "phone": "+44 20 7946 0000", "source": "website"}`},
		{0, 0, `{"full_name": "X", "email": "x@example.com", "message": "<script>alert(1)</script>", "_consent": true, "owner": "u1", "score": 5}`},
		{0, 0, `{"email": "bad", "message": "", "homepage": "http://spam"}`},
		{0, 0, `[1, 2, 3]`},
		{0, 0, `{"full_name": "Y", "email": "y@example.com", "message": "` + strings.Repeat("x", 30000) + `", "_consent": true}`},
		{0, 1, `full_name=Ada&email=ada%40example.com&message=Hi&_consent=on&source=event`},
		{0, 1, `email=%ZZ&message=%00&_consent=yes`},
		{0, 2, multipartBody(map[string]string{"full_name": "M", "email": "m@example.com", "message": "multi", "_consent": "true"}, "", "")},
		{1, 0, `{"subject": "Quote", "size": "large", "interests": ["crm", "forms"], "budget": 1200.5, "amount": 99, "start": "2026-01-02",
		  "call_at": "2026-01-02T10:00:00Z", "newsletter": true, "topics": ["x"], "code": "ABC-12", "website": "https://example.com", "details": "<b>hi</b>"}`},
		{1, 0, `{"subject": "", "size": "huge", "budget": -1, "start": "yesterday", "code": "abc", "interests": "crm", "website": "javascript:alert(1)"}`},
		{1, 1, `subject=Quote&size=small&interests=crm&interests=email&budget=12&newsletter=on&start=2026-01-02&call_at=2026-01-02T10%3A00`},
		{1, 2, multipartBody(map[string]string{"subject": "File", "size": "medium"}, "brief.txt", "hello")},
		{1, 2, multipartBody(map[string]string{"subject": "File", "size": "medium"}, "brief.exe", strings.Repeat("MZ", 2000))},
		{1, 2, multipartBody(map[string]string{"subject": "Latin-1", "size": "small"}, "Angebot \xe4.txt", "hello")},
		{1, 3, `{"subject": "x"}`},
	}
	for _, s := range seeds {
		f.Add(s.form, s.kind, []byte(s.body))
		f.Add(s.form, s.kind|4, []byte(s.body)) // the same to the form's page
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, form, kind uint8, body []byte) {
		slug := []string{"fuzz-lead", "fuzz-every"}[int(form)%2]
		ctype := []string{"application/json", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=" + fuzzBoundary, "text/plain"}[int(kind)%4]
		// Every other input goes to the form's own page, which answers in HTML and shows
		// the submitted values again beside their errors.
		page := kind&4 != 0
		path := "/api/relata/forms/" + slug
		if page {
			path = "/forms/" + slug
		}
		before := e.counts(t)
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, req)
		res := rec.Result()
		after := e.counts(t)
		status := res.StatusCode
		if page && status == http.StatusSeeOther {
			status = http.StatusOK // accepted, on to the thank-you page
		}
		switch status {
		case http.StatusOK:
			if after.submissions != before.submissions+1 {
				t.Fatalf("accepted, but %d submission records were stored", after.submissions-before.submissions)
			}
			if n := after.records - before.records; n < 0 || n > 1 {
				t.Fatalf("accepted, but %d records were created", n)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			if after != before {
				t.Fatalf("refused with %d, but something was stored: %+v → %+v\nanswer: %s", res.StatusCode, before, after, rec.Body)
			}
		default:
			t.Fatalf("%s %s: status %d\nanswer: %s", path, ctype, res.StatusCode, rec.Body)
		}
		if page {
			if ct := res.Header.Get("Content-Type"); status != http.StatusOK && !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("the page answered %d with %q, not HTML", res.StatusCode, ct)
			}
			return
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("the answer (%d) is not JSON: %v\n%s", res.StatusCode, err, rec.Body)
		}
	})
}

type fuzzEnv struct {
	app *core.BaseApp
	mux http.Handler
}

type fuzzCounts struct{ records, submissions, consents int }

func (e *fuzzEnv) counts(t *testing.T) fuzzCounts {
	t.Helper()
	n := func(collection string) int {
		c, err := e.app.CountRecords(collection)
		if err != nil {
			t.Fatal(err)
		}
		return int(c)
	}
	return fuzzCounts{
		records:     n("contacts") + n("fuzz_requests"),
		submissions: n(forms.SubmissionsCollection),
		consents:    n(forms.ConsentsCollection),
	}
}

// newFuzzEnv serves the fuzz forms from PocketBase's router, without a network listener.
func newFuzzEnv(t testing.TB) *fuzzEnv {
	t.Helper()
	objects, formsDir := t.TempDir(), t.TempDir()
	names := map[string]string{"fuzz_requests.json": fuzzObject}
	for name, def := range names {
		if err := os.WriteFile(filepath.Join(objects, name), []byte(def), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	defaults, err := schemas.Load(schemas.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range defaults {
		data, err := schemas.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(objects, o.Name+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, def := range fuzzForms {
		if err := os.WriteFile(filepath.Join(formsDir, name), []byte(def), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: objects})
	forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{formsDir}})
	r, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	var mux http.Handler
	err = app.OnServe().Trigger(&core.ServeEvent{App: app, Router: r}, func(se *core.ServeEvent) error {
		m, err := se.Router.BuildMux()
		mux = m
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fuzzEnv{app: app, mux: mux}
}

// multipartBody encodes values, and a file for the "brief" input when name is set.
func multipartBody(values map[string]string, name, content string) string {
	var b strings.Builder
	for k, v := range values {
		b.WriteString("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n")
	}
	if name != "" {
		b.WriteString("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"brief\"; filename=\"" + name +
			"\"\r\nContent-Type: text/plain\r\n\r\n" + content + "\r\n")
	}
	b.WriteString("--" + fuzzBoundary + "--\r\n")
	return b.String()
}
