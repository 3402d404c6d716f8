package forms_test

import (
	"net/http"
	"strings"
	"testing"
)

const linkedForms = `{
  "slug": "apply-linked", "title": "Apply", "object": "applicants",
  "fields": [{"name": "full_name"}, {"name": "email", "required": true}, {"name": "job", "required": true, "picker": {"filter": "status = 'open'"}}],
  "owner": "alice@example.com",
  "dedupe": {"by": "email", "fill": ["full_name"]},
  "create": [{"object": "applications", "linkTo": "applicant", "copy": {"job": "job", "title": "full_name"}, "values": {"stage": "applied"}}],
  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}
}`

const brokenLinkedForm = `{
  "slug": "apply-broken", "title": "Apply", "object": "applicants",
  "fields": [{"name": "full_name"}, {"name": "job", "required": true, "picker": {}}],
  "create": [{"object": "applications", "linkTo": "applicant", "copy": {"job": "job", "title": "full_name"}, "values": {"referrer": "zzzzzzzzzzzzzzz"}}],
  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}
}`

// TestFormCreatesLinkedRecords: one submission creates the applicant and an application
// linked to it and to the picked job, in one transaction; every refusal — a forged job, a
// linked record the database refuses, a configured link to a missing record — stores
// nothing at all.
func TestFormCreatesLinkedRecords(t *testing.T) {
	e := newEnvWith(t, map[string]string{"linked.json": linkedForms, "broken.json": brokenLinkedForm})
	open := job(t, e, "Go engineer", "open", 1)
	closed := job(t, e, "Closed", "closed", 1)
	nothing := func(t *testing.T) {
		t.Helper()
		for _, coll := range []string{"applicants", "applications", "form_submissions"} {
			if n := e.count(t, coll, ""); n != 0 {
				t.Errorf("%d %s stored by a refused submission", n, coll)
			}
		}
	}
	cases := []struct {
		name, slug string
		body       map[string]any
		key, want  string
	}{
		{"forged job", "apply-linked", map[string]any{"full_name": "Ann", "email": "ann@example.com", "job": closed.Id}, "job", "is not one of the choices"},
		{"linked record refused", "apply-linked", map[string]any{"full_name": "A name longer than twenty", "email": "ann@example.com", "job": open.Id}, "_form", "the application record could not be created: title "},
		{"configured link to nothing", "apply-broken", map[string]any{"full_name": "Ann", "job": open.Id}, "_form", "links to a record that does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, res, _ := e.post(t, c.slug, c.body)
			if code != http.StatusBadRequest || !strings.Contains(res.Errors[c.key], c.want) {
				t.Errorf("= %d %v; want 400 with %s: …%s…", code, res.Errors, c.key, c.want)
			}
			nothing(t)
		})
	}

	for i, name := range []string{"Ann", "Ann again"} {
		code, res, _ := e.post(t, "apply-linked", map[string]any{"full_name": name, "email": "ann@example.com", "job": open.Id})
		if code != http.StatusOK {
			t.Fatalf("submission %d = %d %v", i, code, res.Errors)
		}
	}
	applicant, err := e.app.FindFirstRecordByData("applicants", "email", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := e.app.FindAuthRecordByEmail("users", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := e.app.FindAllRecords("applications")
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || e.count(t, "applicants", "") != 1 {
		t.Fatalf("%d applications, %d applicants; want 2 applications of the one (deduplicated) applicant", len(apps), e.count(t, "applicants", ""))
	}
	for _, a := range apps {
		want := map[string]string{"applicant": applicant.Id, "job": open.Id, "title": "Ann", "stage": "applied", "owner": alice.Id}
		for field, w := range want {
			if got := a.GetString(field); got != w {
				t.Errorf("application %s = %q; want %q", field, got, w)
			}
		}
	}
}
