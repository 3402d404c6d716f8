package forms_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
)

// job creates a record of the test object jobs.
func job(t *testing.T, e *env, title, status string, salary float64) *core.Record {
	t.Helper()
	coll, err := e.app.FindCollectionByNameOrId("jobs")
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(coll)
	r.Set("title", title)
	r.Set("status", status)
	r.Set("salary", salary)
	if err := e.app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPickerOffersOnlyFilteredTitles: a picker shows the titles of the records its filter
// matches — nothing of the others, and no other field of any — on the page and in the JSON
// definition.
func TestPickerOffersOnlyFilteredTitles(t *testing.T) {
	e := newEnv(t)
	open := job(t, e, "Go engineer", "open", 91234)
	closed := job(t, e, "Secret closed role", "closed", 87654)

	code, html, _ := e.get(t, "/forms/apply")
	if code != http.StatusOK {
		t.Fatalf("GET /forms/apply = %d: %s", code, html)
	}
	contains(t, "page", html, `<select id="f-job" name="job" required`, `<option value="`+open.Id+`">Go engineer</option>`)
	for _, leak := range []string{closed.Id, "Secret closed role", "91234", "87654"} {
		if strings.Contains(html, leak) {
			t.Errorf("the page shows %q, which is not a title the picker offers", leak)
		}
	}

	var def forms.PublicForm
	code, body, _ := e.get(t, "/api/relata/forms/apply")
	if code != http.StatusOK {
		t.Fatalf("GET definition = %d: %s", code, body)
	}
	for _, leak := range []string{closed.Id, "Secret closed role", "91234"} {
		if strings.Contains(body, leak) {
			t.Errorf("the definition shows %q", leak)
		}
	}
	decode(t, body, &def)
	var opts []schemas.Option
	for _, f := range def.Fields {
		if f.Name == "job" {
			opts = f.Options
			if f.Type != "picker" {
				t.Errorf("job has type %q; want picker", f.Type)
			}
		}
	}
	if len(opts) != 1 || opts[0].Value != open.Id || opts[0].Label != "Go engineer" {
		t.Errorf("options of job = %+v; want only the open job's id and title", opts)
	}
}

// TestPickerRefusesForgedIds: the submitted id is checked against the picker's filter before
// "Thank you": a record outside the filter, one that does not exist, and hostile values are
// refused with an error on the field, and nothing is stored.
func TestPickerRefusesForgedIds(t *testing.T) {
	e := newEnv(t)
	open := job(t, e, "Go engineer", "open", 1)
	closed := job(t, e, "Closed role", "closed", 1)
	cases := []struct {
		name string
		job  any
		want string
	}{
		{"outside the filter", closed.Id, "is not one of the choices; load the form again and pick one"},
		{"no such record", "zzzzzzzzzzzzzzz", "is not one of the choices; load the form again and pick one"},
		{"filter injection", open.Id + "' || status = 'closed", "is not one of the choices"},
		{"sql injection", "x\" OR 1=1 --", "is not one of the choices"},
		{"a list", []string{open.Id, closed.Id}, "must be text, not a list"},
		{"a number", 42, "must be text, not a number"},
		{"missing", nil, "please choose an option"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.count(t, "applicants", "")
			body := map[string]any{"full_name": "Ann", "email": "ann@example.com"}
			if c.job != nil {
				body["job"] = c.job
			}
			code, res, _ := e.post(t, "apply", body)
			if code != http.StatusBadRequest || res.Errors["job"] != c.want {
				t.Errorf("job %v = %d %v; want 400 with job: %q", c.job, code, res.Errors, c.want)
			}
			if n := e.count(t, "applicants", ""); n != before {
				t.Errorf("a refused submission stored an applicant (%d -> %d)", before, n)
			}
		})
	}
	// The same id is accepted while the job is open, and refused once it is closed.
	code, res, _ := e.post(t, "apply", map[string]any{"full_name": "Ann", "email": "ann@example.com", "job": open.Id})
	if code != http.StatusOK {
		t.Fatalf("open job = %d %v", code, res.Errors)
	}
	r, err := e.app.FindFirstRecordByData("applicants", "email", "ann@example.com")
	if err != nil || r.GetString("job") != open.Id {
		t.Fatalf("stored applicant %v, %v; want job %s", r, err, open.Id)
	}
	open.Set("status", "closed")
	if err := e.app.Save(open); err != nil {
		t.Fatal(err)
	}
	vals := url.Values{"full_name": {"Bob"}, "job": {open.Id}}
	code, html, _ := e.postForm(t, "apply", vals)
	if code != http.StatusBadRequest {
		t.Fatalf("closed job on the page = %d", code)
	}
	contains(t, "page", html, "Job: is not one of the choices")
}

// TestPrefillAndQueryCapture: the page's address fills in the inputs marked prefill and the
// parameters of fromQuery, each checked as a submitted value (invalid ones are dropped); it
// never fills anything else. A submission stores the captured parameters in their fields.
func TestPrefillAndQueryCapture(t *testing.T) {
	e := newEnv(t)
	open := job(t, e, "Go engineer", "open", 1)
	q := url.Values{
		"full_name": {"Ann <b>Lee</b>"}, "email": {"ann@example.com"}, "job": {open.Id},
		"utm_source": {"newsletter"}, "utm_campaign": {"spring\u202esale"}, "channel": {"fax"},
		"secret": {"s3cr3t"}, "owner": {"someone"}, "_token": {"forged"},
	}
	code, html, _ := e.get(t, "/forms/apply?"+q.Encode())
	if code != http.StatusOK {
		t.Fatalf("GET = %d", code)
	}
	contains(t, "page", html, `value="ann@example.com"`, `<option value="`+open.Id+`" selected>`,
		`<input type="hidden" name="utm_source" value="newsletter">`)
	for _, not := range []string{"Ann &lt;b&gt;", "Ann <b>", `name="utm_campaign"`, `name="channel"`, "s3cr3t", "someone", `value="forged"`} {
		if strings.Contains(html, not) {
			t.Errorf("the page shows %q; an invalid or undeclared parameter must not be filled in", not)
		}
	}

	cases := []struct {
		name  string
		extra map[string]any
		key   string
		want  string
	}{
		{"markup in a parameter", map[string]any{"utm_campaign": "<script>alert(1)</script>"}, "utm_campaign", "must not contain HTML tags such as <script>"},
		{"control character", map[string]any{"utm_source": "a\u0000b"}, "utm_source", "must not contain control characters (found U+0000)"},
		{"too long", map[string]any{"utm_source": strings.Repeat("x", 101)}, "utm_source", ""},
		{"not an option", map[string]any{"channel": "fax"}, "channel", ""},
		{"a field not declared", map[string]any{"secret": "x"}, "secret", "cannot be set through this form"},
		{"the owner", map[string]any{"owner": "x"}, "owner", "cannot be set through this form"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"full_name": "Ann", "job": open.Id}
			for k, v := range c.extra {
				body[k] = v
			}
			code, res, _ := e.post(t, "apply", body)
			if code != http.StatusBadRequest || res.Errors[c.key] == "" || c.want != "" && res.Errors[c.key] != c.want {
				t.Errorf("= %d %v; want 400 with %s: %q", code, res.Errors, c.key, c.want)
			}
		})
	}
	if n := e.count(t, "applicants", ""); n != 0 {
		t.Fatalf("refused submissions stored %d applicants", n)
	}

	// The page posts the captured parameters back; they land in their fields.
	vals := url.Values{"full_name": {"Ann"}, "email": {"ann@example.com"}, "job": {open.Id},
		"utm_source": {"newsletter"}, "utm_campaign": {"spring"}, "channel": {"mail"}}
	code, html, _ = e.postForm(t, "apply", vals)
	if code != http.StatusOK {
		t.Fatalf("POST page = %d: %s", code, html)
	}
	r, err := e.app.FindFirstRecordByData("applicants", "email", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"utm_source": "newsletter", "utm_campaign": "spring", "channel": "mail", "job": open.Id, "secret": ""} {
		if got := r.GetString(field); got != want {
			t.Errorf("%s = %q; want %q", field, got, want)
		}
	}
}

// TestPickerAndQueryDefinitionErrors: mistakes in pickers and fromQuery are reported with
// the JSON pointer of the setting.
func TestPickerAndQueryDefinitionErrors(t *testing.T) {
	e := newEnv(t)
	base := `"slug": "x", "title": "X", "object": "applicants", `
	cases := []struct{ name, json, ptr, want string }{
		{"relation without picker", base + `"fields": [{"name": "full_name"}, {"name": "job"}]}`, "/fields/1/name", "give it a picker"},
		{"picker on text", base + `"fields": [{"name": "full_name", "picker": {}}]}`, "/fields/0/picker", "only relation fields take a picker"},
		{"multiple relation", base + `"fields": [{"name": "full_name"}, {"name": "jobs_seen", "picker": {}}]}`, "/fields/1/name", "a picker chooses one"},
		{"request in filter", base + `"fields": [{"name": "full_name"}, {"name": "job", "picker": {"filter": "@request.auth.id != ''"}}]}`, "/fields/1/picker/filter", "not @request or @collection"},
		{"bad filter", base + `"fields": [{"name": "full_name"}, {"name": "job", "picker": {"filter": "status = = 'open'"}}]}`, "/fields/1/picker/filter", "does not parse"},
		{"capture a form field", base + `"fields": [{"name": "full_name"}], "fromQuery": {"n": "full_name"}}`, "/fromQuery/n", "is on the form"},
		{"capture the owner", base + `"fields": [{"name": "full_name"}], "fromQuery": {"o": "owner"}}`, "/fromQuery/o", "can only fill text"},
		{"capture a hidden field", base + `"fields": [{"name": "full_name"}], "fromQuery": {"s": "secret"}}`, "/fromQuery/s", "showInForms is false"},
		{"capture an unknown field", base + `"fields": [{"name": "full_name"}], "fromQuery": {"s": "nope"}}`, "/fromQuery/s", "is not a field of applicants"},
		{"parameter is an input", base + `"fields": [{"name": "full_name"}], "fromQuery": {"full_name": "utm_source"}}`, "/fromQuery/full_name", "already an input"},
		{"linked object unknown", base + `"fields": [{"name": "full_name"}], "create": [{"object": "nope", "linkTo": "x"}]}`, "/create/0/object", `object "nope" is not defined`},
		{"linkTo not back", base + `"fields": [{"name": "full_name"}], "create": [{"object": "applications", "linkTo": "job", "copy": {"title": "full_name"}}]}`, "/create/0/linkTo", "must be a relation field of applications pointing at applicants"},
		{"copy across objects", base + `"fields": [{"name": "full_name"}, {"name": "job", "picker": {}}], "create": [{"object": "applications", "linkTo": "applicant", "copy": {"title": "full_name", "job": "full_name"}}]}`, "/create/0/copy/job", "copy a relation to the same object"},
		{"copy a field not on the form", base + `"fields": [{"name": "full_name"}], "create": [{"object": "applications", "linkTo": "applicant", "copy": {"title": "secret"}}]}`, "/create/0/copy/title", "neither a field of the form"},
		{"linked required field unset", base + `"fields": [{"name": "full_name"}], "create": [{"object": "applications", "linkTo": "applicant", "copy": {"title": "full_name"}}]}`, "/create/0", `applications requires field "job"`},
		{"linked bad value", base + `"fields": [{"name": "full_name"}, {"name": "job", "picker": {}}], "create": [{"object": "applications", "linkTo": "applicant", "copy": {"title": "full_name", "job": "job"}, "values": {"stage": "hired"}}]}`, "/create/0/values/stage", "value of \"stage\""},
		{"prefill a file", `"slug": "x", "title": "X", "object": "inquiries", "fields": [{"name": "subject"}, {"name": "brief", "prefill": true}]}`, "/fields/1/prefill", "an address cannot fill it in"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, errs := forms.Parse("x.json", []byte("{"+c.json))
			if len(errs) == 0 {
				errs = forms.Check(f, e.reg.Objects())
			}
			found := false
			for _, err := range errs {
				if err.Pointer == c.ptr && strings.Contains(err.Message, c.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("errors %v; want %s: …%s…", errs, c.ptr, c.want)
			}
		})
	}
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
}

// TestPickerFilterCheckedAtLoad: a picker filter naming a field its target lacks is reported
// when the forms load, with file, line and JSON pointer, and nothing is served.
func TestPickerFilterCheckedAtLoad(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	def := "{\n  \"slug\": \"bad-picker\", \"title\": \"X\", \"object\": \"applicants\",\n  \"fields\": [\n    {\"name\": \"full_name\"},\n    {\"name\": \"job\", \"picker\": {\"filter\": \"statuss = 'open'\"}}\n  ]\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	svc, err := forms.Register(e.app, nil, forms.Config{Registry: e.reg, Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Load()
	want := filepath.Join(dir, "bad.json") + `:5 /fields/1/picker/filter: the picker of "job" cannot list jobs:`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "statuss") {
		t.Fatalf("Load = %v; want …%s… naming statuss", err, want)
	}
	if len(svc.Forms()) != 0 {
		t.Errorf("a form with a bad picker was loaded")
	}
}
