package forms_test

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
)

func defaultObjects(t *testing.T) []*schemas.Object {
	t.Helper()
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestExampleForms(t *testing.T) {
	loaded, err := forms.Load(os.DirFS("../../examples/sales/forms"), defaultObjects(t))
	if err != nil {
		t.Fatalf("examples/sales/forms: %v", err)
	}
	var slugs []string
	for _, f := range loaded {
		slugs = append(slugs, f.Slug)
		if f.Consent == nil || f.Dedupe == nil || f.Hidden["source"] != "website" {
			t.Errorf("%s: the examples show consent, dedupe and the website source", f.Slug)
		}
	}
	if got, want := strings.Join(slugs, ","), "contact-us,newsletter,request-a-demo"; got != want {
		t.Errorf("example forms = %s; want %s", got, want)
	}
}

func TestLoadTestdata(t *testing.T) {
	all := fstest.MapFS{}
	for _, src := range []fs.FS{schemas.Defaults(), os.DirFS("testdata/objects")} {
		names, _ := fs.Glob(src, "*.json")
		for _, name := range names {
			b, err := fs.ReadFile(src, name)
			if err != nil {
				t.Fatal(err)
			}
			all[name] = &fstest.MapFile{Data: b}
		}
	}
	objs, err := schemas.Load(all)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := forms.Load(os.DirFS("testdata/forms"), objs)
	if err != nil {
		t.Fatalf("testdata/forms: %v", err)
	}
	if len(loaded) != 6 {
		t.Errorf("loaded %d forms; want 6", len(loaded))
	}
}

// TestCheckErrors shows the message, line and JSON pointer of each kind of mistake in a
// form definition.
func TestCheckErrors(t *testing.T) {
	const base = `{
  "slug": "bad",
  "title": "Bad",
  "object": "contacts",
  "fields": [
    %s
  ]%s
}`
	scenarios := []struct {
		name   string
		fields string
		extra  string
		want   []string
	}{
		{"valid", `{"name": "full_name"}, {"name": "email"}`, ``, nil},
		{"syntax error", `{"name": "full_name",}`, ``, []string{"bad.json:6: invalid JSON"}},
		{"unknown key", `{"name": "full_name"}`, `, "colour": "red"`, []string{`bad.json:7 /colour: unknown property "colour"`}},
		{"bad slug", `{"name": "full_name"}`, `, "slug": "Contact Us"`, []string{`bad.json`}},
		{"unknown object", `{"name": "full_name"}`, `, "object": "leads"`,
			[]string{`bad.json:7 /object: object "leads" is not defined (known: activities, companies, contacts, deals)`}},
		{"unknown field", `{"name": "full_name"}, {"name": "emial"}`, ``,
			[]string{`bad.json:6 /fields/1/name: "emial" is not a field of contacts (did you mean "email"?)`}},
		{"field not for forms", `{"name": "full_name"}, {"name": "owner"}, {"name": "lifecycle_stage"}, {"name": "company"}`, ``,
			[]string{
				`bad.json:6 /fields/1/name: field "owner" of contacts may not appear on forms`,
				`bad.json:6 /fields/2/name: field "lifecycle_stage" of contacts may not appear on forms`,
				`bad.json:6 /fields/3/name: field "company" is a relation: give it a picker`,
			}},
		{"field twice", `{"name": "full_name"}, {"name": "full_name"}`, ``,
			[]string{`/fields/1/name: field "full_name" is on the form twice`}},
		{"required field made optional", `{"name": "full_name", "required": false}`, ``,
			[]string{`bad.json:6 /fields/0/required: field "full_name" cannot be optional: contacts requires it`}},
		{"required field missing", `{"name": "email"}`, ``,
			[]string{`bad.json:5 /fields: contacts requires field "full_name": put it on the form or give it a hidden value`}},
		{"required field hidden", `{"name": "email"}`, `, "hidden": {"full_name": "Web visitor"}`, nil},
		{"hidden value invalid", `{"name": "full_name"}`, `,
  "hidden": {"source": "web", "do_not_email": "no"}`, []string{
			`bad.json:8 /hidden/do_not_email: hidden value of "do_not_email": must be true or false, not a string`,
			`bad.json:8 /hidden/source: hidden value of "source": "web" is not among the options of this field`,
		}},
		{"hidden unknown", `{"name": "full_name"}`, `, "hidden": {"sauce": "website"}`,
			[]string{`/hidden/sauce: "sauce" is not a field of contacts (did you mean "source"?)`}},
		{"hidden and on the form", `{"name": "full_name"}, {"name": "source"}`, `, "hidden": {"source": "website"}`,
			[]string{`/hidden/source: field "source" is both on the form and hidden; pick one`}},
		{"dedupe by a non-email field", `{"name": "full_name"}, {"name": "phone"}`, `, "dedupe": {"by": "phone"}`,
			[]string{`bad.json:7 /dedupe/by: dedupe field "phone" must be an email field, not phone`}},
		{"dedupe by an optional email", `{"name": "full_name"}, {"name": "email"}`, `, "dedupe": {"by": "email"}`,
			[]string{`/dedupe/by: dedupe field "email" must be required on the form`}},
		{"dedupe updates a field not on the form", `{"name": "full_name"}, {"name": "email", "required": true}`,
			`, "dedupe": {"by": "email", "update": ["phone"]}`,
			[]string{`bad.json:7 /dedupe/update/0: "phone" is neither a field of the form, hidden, nor taken from the address`}},
		{"honeypot is a field", `{"name": "full_name"}`, `, "spam": {"honeypot": "email"}`,
			[]string{`bad.json:7 /spam/honeypot: the honeypot "email" is a field of contacts; name it something else`}},
		{"message and redirect", `{"name": "full_name"}`, `, "successMessage": "Thanks", "redirectUrl": "https://example.com/thanks"`,
			[]string{`bad.json:7 /redirectUrl: set successMessage or redirectUrl, not both`}},
		{"redirect not http", `{"name": "full_name"}`, `, "redirectUrl": "javascript:alert(1)"`,
			[]string{`bad.json:7 /redirectUrl:`}},
		// A site or redirect host is written into the page's Content-Security-Policy: a ";" or
		// "," in it added directives or policies to the header.
		{"origin that adds a directive", `{"name": "full_name"}`, `, "allowOrigins": ["https://www.example.com;sandbox"]`,
			[]string{`bad.json:7 /allowOrigins/0:`}},
		{"origins in one entry", `{"name": "full_name"}`, `, "allowOrigins": ["https://a.example.com,b.example.com"]`,
			[]string{`bad.json:7 /allowOrigins/0:`}},
		{"origin with a quote", `{"name": "full_name"}`, `, "allowOrigins": ["https://'unsafe-inline'"]`,
			[]string{`bad.json:7 /allowOrigins/0:`}},
		{"redirect host that adds a directive", `{"name": "full_name"}`, `, "redirectUrl": "https://example.com;sandbox/thanks"`,
			[]string{`bad.json:7 /redirectUrl:`}},
		{"redirect with credentials", `{"name": "full_name"}`, `, "redirectUrl": "https://www.example.com@evil.example/"`,
			[]string{`bad.json:7 /redirectUrl:`}},
		{"origins and redirect", `{"name": "full_name"}`,
			`, "allowOrigins": ["*", "https://www.example.com", "http://localhost:3000", "https://*.example.com", "http://[::1]:8080"], "redirectUrl": "https://example.com:8443/thanks?from=form#top"`, nil},
		{"spam out of range", `{"name": "full_name"}`, `, "spam": {"minFillSeconds": -1}`,
			[]string{`bad.json:7 /spam/minFillSeconds:`}},
		{"double opt-in without an email", `{"name": "full_name"}`, `, "consent": {"text": "yes", "version": "1", "doubleOptIn": true}`,
			[]string{`/consent/doubleOptIn: double opt-in sends the confirmation to the record's email`}},
		{"double opt-in with a required email", `{"name": "full_name"}, {"name": "email", "required": true}`,
			`, "consent": {"text": "yes", "version": "1", "doubleOptIn": true, "purpose": "marketing_email", "basis": "consent"}`, nil},
		{"unknown legal basis", `{"name": "full_name"}`, `, "consent": {"text": "yes", "version": "1", "basis": "because"}`,
			[]string{`/consent/basis:`}},
	}
	objs := defaultObjects(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			data := strings.Replace(strings.Replace(base, "%s", sc.fields, 1), "%s", sc.extra, 1)
			_, err := forms.Load(fstest.MapFS{"bad.json": {Data: []byte(data)}}, objs)
			if len(sc.want) == 0 {
				if err != nil {
					t.Fatalf("valid definition refused: %v", err)
				}
				return
			}
			var errs schemas.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v; want schemas.Errors", err)
			}
			got := err.Error()
			for _, w := range sc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems lack %q:\n%s", w, got)
				}
			}
			if len(errs) != len(sc.want) {
				t.Errorf("got %d problems; want %d:\n%s", len(errs), len(sc.want), got)
			}
		})
	}
}

func TestDuplicateSlugAcrossDirs(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	b, _ := os.ReadFile("testdata/forms/open.json")
	if err := os.WriteFile(dir+"/again.json", b, 0o644); err != nil {
		t.Fatal(err)
	}
	svc := forms.MustRegister(e.app, nil, forms.Config{Registry: e.reg, Dirs: []string{"testdata/forms", dir}})
	err := svc.Load()
	if err == nil || !strings.Contains(err.Error(), `again.json /slug: slug "open" is already defined in testdata/forms/open.json`) {
		t.Errorf("Load = %v; want a duplicate slug error", err)
	}
}
