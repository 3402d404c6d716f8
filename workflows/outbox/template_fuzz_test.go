package outbox_test

import (
	"net/mail"
	"testing"
	"unicode/utf8"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
)

// FuzzTemplate checks and renders fuzzed email templates (subject, HTML and text parts) for
// a contact, as saving a template and the send_email action do. A template may be refused
// or fail to render with an error; it must never panic, and an HTML part rendered from
// valid UTF-8 stays valid UTF-8.
//
//	go test -run '^$' -fuzz '^FuzzTemplate$' -fuzztime 1m ./workflows/outbox/
func FuzzTemplate(f *testing.F) {
	for _, s := range [][3]string{
		{"Welcome, {{.record.full_name}}", benchHTML, ""},
		{"Hi {{.recipient.name}}", "", "Hello {{.record.full_name}} of {{.record.company.name}}\n{{join .record.company.tags \", \"}}"},
		{"{{.record.nope}}", "<p>{{.record.full_name}</p>", "{{range .record.company.tags}}{{.}}{{end}}"},
		{"{{if .user.name}}{{.user.name}}{{else}}system{{end}}", `<a href="{{.record.email}}">x</a><script>var x = {{.record.full_name}};</script>`, ""},
		{"{{printf \"%v\" .record}}", `<p style="color: {{.record.phone}}">{{.app.name}} {{.sender.email}}</p>`, "{{.unsubscribe_url}}"},
		{"x", "<div><p>a</p><br><ul><li>b</li></ul><table><tr><td>c</td></tr></table></div>&amp;&nbsp;&#x1F600;", ""},
		{"{{define \"a\"}}{{template \"a\"}}{{end}}{{template \"a\"}}", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	app := schemastest.OpenApp(f, f.TempDir())
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		f.Fatal(err)
	}
	schemastest.ApplyObjs(f, app, objs, false)
	alice, _ := schemastest.NewUser(f, app, "alice@example.com", "sales", "north")
	acme := schemastest.MustCreate(f, app, "companies", map[string]any{"name": "Acme <&> \"Co\"", "tags": []string{"vip", "<b>"}})
	contact := schemastest.MustCreate(f, app, "contacts", map[string]any{
		"full_name": "Ada </script><script>alert(1)</script>", "email": "ada@example.com", "company": acme.Id, "owner": alice.Id})
	in := outbox.RenderInput{Record: contact, Actor: alice,
		Recipient: mail.Address{Name: "Ada", Address: "ada@example.com"},
		Sender:    mail.Address{Name: "Relata", Address: "crm@relata.test"}}
	f.Fuzz(func(t *testing.T, subject, html, text string) {
		tpl := outbox.Template{Name: "fuzz", Subject: subject, HTML: html, Text: text, Object: "contacts"}
		if err := tpl.Check(app); err != nil {
			return
		}
		r, err := tpl.Render(app, in)
		if err != nil {
			return
		}
		if utf8.ValidString(html) && !utf8.ValidString(r.HTML) {
			t.Fatalf("valid UTF-8 template rendered invalid UTF-8 HTML: %q", r.HTML)
		}
	})
}

// FuzzHTMLToText derives plain text from HTML, as an email without a text part gets one: it
// must not panic, and valid UTF-8 in gives valid UTF-8 out.
func FuzzHTMLToText(f *testing.F) {
	for _, s := range []string{benchHTML, "<p>a<br>b</p><ul><li>x</li></ul>", "<a href=\"https://x\">link</a>", "&amp;&lt;&#9731;&bogus;", "<", "<!--", "<script>x</script>text"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, html string) {
		out := outbox.HTMLToText(html)
		if utf8.ValidString(html) && !utf8.ValidString(out) {
			t.Fatalf("HTMLToText(%q) = %q: invalid UTF-8", html, out)
		}
	})
}
