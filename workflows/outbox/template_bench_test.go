package outbox_test

import (
	"net/mail"
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
)

// benchHTML is a typical marketing email: fields of the record and of two related records,
// a list, the sender and the unsubscribe link.
const benchHTML = `<h1>Hello {{.record.full_name}}</h1>
<p>Thank you for your interest, {{.record.full_name}} of {{.record.company.name}}.</p>
<p>{{.record.owner.name}} will call you on {{.record.phone}} within one working day.</p>
<ul>{{range .record.company.tags}}<li>{{.}}</li>{{end}}</ul>
<p>Best regards,<br>{{.sender.name}}</p>
<p><a href="{{.unsubscribe_url}}">Unsubscribe</a></p>`

// BenchmarkRender measures rendering an email template for a record, as the send_email action
// and the preview endpoint do: parsing the three parts, reading the record and its related
// records (with the acting user's view rules, when there is one) and executing the templates.
// "text_derived" has no text part, so it is derived from the HTML.
//
//	go test -run '^$' -bench Render -benchmem ./workflows/outbox/
func BenchmarkRender(b *testing.B) {
	app := schemastest.OpenApp(b, b.TempDir())
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		b.Fatal(err)
	}
	schemastest.ApplyObjs(b, app, objs, false)
	alice, _ := schemastest.NewUser(b, app, "alice@example.com", "sales", "north")
	acme := schemastest.MustCreate(b, app, "companies", map[string]any{"name": "Acme & Co", "tags": []string{"vip", "eu", "software"}})
	contact := schemastest.MustCreate(b, app, "contacts", map[string]any{
		"full_name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000", "company": acme.Id, "owner": alice.Id})
	in := outbox.RenderInput{Record: contact,
		Recipient: mail.Address{Name: "Ada Lovelace", Address: "ada@example.com"},
		Sender:    mail.Address{Name: "Relata CRM", Address: "crm@relata.test"}}
	cases := []struct {
		name string
		tpl  outbox.Template
		as   bool
	}{
		{"subject_only", outbox.Template{Name: "t", Subject: "Welcome, {{.record.full_name}}", Text: "Hello {{.record.full_name}}"}, false},
		{"text_derived", outbox.Template{Name: "t", Subject: "Welcome, {{.record.full_name}}", HTML: benchHTML, Category: outbox.Marketing}, false},
		{"html_and_text", outbox.Template{Name: "t", Subject: "Welcome, {{.record.full_name}}", HTML: benchHTML,
			Text: "Hello {{.record.full_name}} of {{.record.company.name}}", Category: outbox.Marketing}, false},
		{"html_and_text_as_user", outbox.Template{Name: "t", Subject: "Welcome, {{.record.full_name}}", HTML: benchHTML,
			Text: "Hello {{.record.full_name}} of {{.record.company.name}}", Category: outbox.Marketing}, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			in := in
			if bc.as {
				in.Actor = alice
			}
			b.ReportAllocs()
			for b.Loop() {
				r, err := bc.tpl.Render(app, in)
				if err != nil {
					b.Fatal(err)
				}
				if r.Subject != "Welcome, Ada Lovelace" {
					b.Fatalf("subject = %q", r.Subject)
				}
			}
		})
	}
}
