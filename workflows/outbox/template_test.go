package outbox_test

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

const welcomeHTML = `<p>Hi {{.record.full_name}} from {{.record.company.name}},</p>
<p>I am {{.record.owner.name}}, your contact at {{.sender.name}}.</p>
<ul>{{range .record.company.tags}}<li>{{.}}</li>{{end}}</ul>
<p>{{join .record.company.tags ", "}}, {{default "friend" .user.name}}</p>
<p><a href="{{.unsubscribe_url}}">Unsubscribe</a></p>`

// world is a served app with users in two teams and a few records.
type world struct {
	*env
	alice, bob, carol, mgr             *core.Record
	aliceTok, bobTok, carolTok, mgrTok string
	acme, contact, carolsContact       *core.Record
	bobsDeal, alicesDeal               *core.Record
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{env: newServed(t, outboxtest.Options{}, outbox.Config{})}
	w.alice, w.aliceTok = schemastest.NewUser(t, w.app, "alice@example.com", "sales", "north")
	w.bob, w.bobTok = schemastest.NewUser(t, w.app, "bob@example.com", "sales", "north")
	w.carol, w.carolTok = schemastest.NewUser(t, w.app, "carol@example.com", "sales", "south")
	w.mgr, w.mgrTok = schemastest.NewUser(t, w.app, "mgr@example.com", "manager", "")
	w.acme = schemastest.MustCreate(t, w.app, "companies", map[string]any{"name": "Acme & <Co>", "tags": []string{"vip", "eu"}})
	w.contact = schemastest.MustCreate(t, w.app, "contacts", map[string]any{
		"full_name": "<script>alert(1)</script>", "email": "ada@example.com", "company": w.acme.Id, "owner": w.alice.Id})
	w.carolsContact = schemastest.MustCreate(t, w.app, "contacts", map[string]any{
		"full_name": "Carol's Lead", "email": "lead@example.com", "owner": w.carol.Id})
	w.bobsDeal = schemastest.MustCreate(t, w.app, "deals", map[string]any{"name": "Bob's deal", "stage": "lead", "owner": w.bob.Id, "company": w.acme.Id})
	w.alicesDeal = schemastest.MustCreate(t, w.app, "deals", map[string]any{"name": "Alice's deal", "stage": "lead", "owner": w.alice.Id,
		"company": w.acme.Id, "contacts": []string{w.contact.Id, w.carolsContact.Id}})
	return w
}

func (w *world) template(t *testing.T, values map[string]any) *core.Record {
	t.Helper()
	return schemastest.MustCreate(t, w.app, outbox.TemplatesCollection, values)
}

func TestTemplateRendering(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.template(t, map[string]any{"name": "welcome", "object": "contacts", "category": "marketing",
		"subject": "Welcome, {{.record.full_name}}", "html": welcomeHTML})
	r, err := outbox.Render(w.app, "welcome", outbox.RenderInput{Record: w.contact,
		Recipient: mail.Address{Name: "Ada", Address: "ada@example.com"}, Sender: mail.Address{Name: "Relata & Co", Address: "crm@relata.test"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; from Acme &amp; &lt;Co&gt;,</p>`,
		`I am alice@example.com, your contact at Relata &amp; Co.`,
		`<li>vip</li><li>eu</li>`,
		`<p>vip, eu, friend</p>`,
		`<a href="` + outbox.UnsubscribePlaceholder + `">Unsubscribe</a>`,
	} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("html lacks %q:\n%s", want, r.HTML)
		}
	}
	if strings.Contains(r.HTML, "<script>") {
		t.Errorf("html holds an unescaped <script>:\n%s", r.HTML)
	}
	wantText := "Hi <script>alert(1)</script> from Acme & <Co>,\n\nI am alice@example.com, your contact at Relata & Co.\n\n" +
		"- vip\n- eu\n\nvip, eu, friend\n\nUnsubscribe (" + outbox.UnsubscribePlaceholder + ")\n"
	if r.Text != wantText {
		t.Errorf("derived text =\n%q\nwant\n%q", r.Text, wantText)
	}
	if r.Subject != "Welcome, <script>alert(1)</script>" || r.Category != outbox.Marketing {
		t.Errorf("subject %q category %q", r.Subject, r.Category)
	}
}

func TestTemplateAccessOfTheActingUser(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.template(t, map[string]any{"name": "deal", "object": "deals", "subject": "{{.record.name}}",
		"text": "{{.record.company.name}}|{{range .record.contacts}}{{.full_name}};{{end}}|{{.user.name}}"})
	tests := []struct {
		name    string
		deal    *core.Record
		actor   *core.Record
		want    string
		wantErr error
	}{
		{"system sees everything", w.alicesDeal, nil, "Acme & <Co>|<script>alert(1)</script>;Carol's Lead;|", nil},
		{"owner sees her deal, not another team's contact", w.alicesDeal, w.alice, "Acme & <Co>|<script>alert(1)</script>;|alice@example.com", nil},
		{"manager sees all", w.alicesDeal, w.mgr, "Acme & <Co>|<script>alert(1)</script>;Carol's Lead;|mgr@example.com", nil},
		{"sales user cannot render another user's deal", w.bobsDeal, w.alice, "", outbox.ErrNoAccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := outbox.Render(w.app, "deal", outbox.RenderInput{Record: tt.deal, Actor: tt.actor})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if err == nil && r.Text != tt.want {
				t.Errorf("text = %q; want %q", r.Text, tt.want)
			}
		})
	}
	if _, err := outbox.Render(w.app, "nope", outbox.RenderInput{}); !errors.Is(err, outbox.ErrTemplateNotFound) {
		t.Errorf("unknown template: %v", err)
	}
}

func TestTemplatesAreCheckedWhenSaved(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct {
		name   string
		token  string
		values map[string]any
		code   int
		want   []string
	}{
		{"valid, by a manager", w.mgrTok, map[string]any{"name": "ok", "subject": "Hi {{.recipient.name}}", "html": "<p>{{.record.full_name}}</p>"}, 200, nil},
		{"syntax error in html", w.mgrTok, map[string]any{"name": "bad", "subject": "Hi", "html": "<p>Hello</p>\n<p>{{.record.full_name</p>"},
			400, []string{`"html"`, "line 2", "invalid_template"}},
		{"unclosed if in text", w.mgrTok, map[string]any{"name": "bad2", "subject": "Hi", "text": "a\nb\n{{if .record.x}}c"},
			400, []string{`"text"`, "line 3"}},
		{"unknown field of its object", w.mgrTok, map[string]any{"name": "bad3", "object": "contacts", "subject": "Hi",
			"html": "<p>\n{{.record.fulname}}</p>"}, 400, []string{`"html"`, "line 2", "fulname"}},
		{"unknown field of a related record", w.mgrTok, map[string]any{"name": "bad4", "object": "deals", "subject": "{{.record.company.nmae}}"},
			400, []string{`"subject"`, "nmae"}},
		{"endless range over a number", w.mgrTok, map[string]any{"name": "bad6", "subject": "Hi", "text": "a\n{{range 1000000000000}}{{end}}"},
			400, []string{`"text"`, "range over a number"}},
		{"range over a number through a variable", w.mgrTok, map[string]any{"name": "bad7", "subject": "Hi", "text": "{{$n := 1000000000000}}{{range $n}}{{end}}"},
			400, []string{`"text"`, "range over a number"}},
		{"range over a number in a define", w.mgrTok, map[string]any{"name": "bad8", "subject": "Hi", "html": `{{define "x"}}{{range 5}}{{end}}{{end}}<p>hi</p>`},
			400, []string{`"html"`, "range over a number"}},
		{"unknown object", w.mgrTok, map[string]any{"name": "bad5", "object": "dealz", "subject": "Hi"}, 400, []string{`"object"`, "dealz"}},
		{"sales users cannot edit templates", w.aliceTok, map[string]any{"name": "mine", "subject": "Hi"}, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out map[string]any
			code := schemastest.Call(t, w.srv, http.MethodPost, "/api/collections/email_templates/records", tt.token, tt.values, &out)
			if code != tt.code {
				t.Fatalf("status %d; want %d: %v", code, tt.code, out)
			}
			body := jsonString(out)
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("answer lacks %q: %s", want, body)
				}
			}
		})
	}
	if code := schemastest.Call(t, w.srv, http.MethodGet, "/api/collections/email_templates/records", w.aliceTok, nil, nil); code != 200 {
		t.Errorf("sales user listing templates = %d; want 200", code)
	}
}

func TestPreviewEndpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.template(t, map[string]any{"name": "deal-update", "object": "deals", "category": "marketing",
		"subject": "About {{.record.name}}", "html": `<p>{{.record.name}} for {{.recipient.name}}</p><a href="{{.unsubscribe_url}}">stop</a>`})
	w.template(t, map[string]any{"name": "welcome", "object": "contacts", "subject": "Welcome {{.record.full_name}}", "html": welcomeHTML})
	tests := []struct {
		name  string
		tpl   string
		token string
		body  map[string]any
		code  int
		want  []string
	}{
		{"manager previews a deal", "deal-update", w.mgrTok, map[string]any{"object": "deals", "recordId": w.alicesDeal.Id, "to": "Zoe <zoe@example.com>"},
			200, []string{`"subject":"About Alice's deal"`, `Alice's deal for Zoe`, w.srv.URL + outbox.PreviewUnsubscribePath, `"to":"\"Zoe\" <zoe@example.com>"`}},
		{"sales users may not preview", "deal-update", w.aliceTok, map[string]any{"object": "deals", "recordId": w.alicesDeal.Id}, 403, nil},
		{"sales user previewing another user's deal", "deal-update", w.aliceTok, map[string]any{"object": "deals", "recordId": w.bobsDeal.Id}, 403, nil},
		{"manager previews any deal", "deal-update", w.mgrTok, map[string]any{"object": "deals", "recordId": w.bobsDeal.Id}, 200, []string{"About Bob's deal"}},
		{"recipient from the record", "welcome", w.mgrTok, map[string]any{"object": "contacts", "recordId": w.contact.Id},
			200, []string{`ada@example.com`, `&lt;script&gt;`}},
		{"unknown record", "welcome", w.mgrTok, map[string]any{"object": "contacts", "recordId": "nope"}, 404, nil},
		{"unknown template", "nope", w.mgrTok, map[string]any{}, 404, nil},
		{"signed out", "welcome", "", map[string]any{}, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out map[string]any
			code := schemastest.Call(t, w.srv, http.MethodPost, "/api/relata/email-templates/"+tt.tpl+"/preview", tt.token, tt.body, &out)
			if code != tt.code {
				t.Fatalf("status %d; want %d: %v", code, tt.code, out)
			}
			body := jsonString(out)
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("answer lacks %q: %s", want, body)
				}
			}
		})
	}
}

// TestPreviewAccess reproduces finding 4: alice previewed a newsletter for carol's user
// record and got carol's private address, and a preview "to" any address returned a working
// signed unsubscribe link. Now only template editors preview, private emails stay private
// for them too, and preview links unsubscribe nobody.
func TestPreviewAccess(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.template(t, map[string]any{"name": "newsletter", "category": "marketing",
		"subject": "News for {{.recipient.email}}", "html": `<p>{{.record.email}}</p><a href="{{.unsubscribe_url}}">stop</a>`})
	preview := func(token string, body map[string]any) (int, string) {
		var out map[string]any
		code := schemastest.Call(t, w.srv, http.MethodPost, "/api/relata/email-templates/newsletter/preview", token, body, &out)
		return code, jsonString(out)
	}
	if code, body := preview(w.aliceTok, map[string]any{"object": "users", "recordId": w.carol.Id}); code != 403 || strings.Contains(body, "carol@example.com") {
		t.Fatalf("sales user previewing carol: %d %s", code, body)
	}
	code, body := preview(w.mgrTok, map[string]any{"object": "users", "recordId": w.carol.Id})
	if code != 200 || strings.Contains(body, "carol@example.com") || !strings.Contains(body, `"to":""`) {
		t.Fatalf("manager previewing a user with a private email: %d %s", code, body)
	}
	code, body = preview(w.mgrTok, map[string]any{"object": "users", "recordId": w.carol.Id, "to": "someone@example.net"})
	if code != 200 || !strings.Contains(body, w.srv.URL+outbox.PreviewUnsubscribePath) {
		t.Fatalf("preview to an address: %d %s", code, body)
	}
	if st := schemastest.Call(t, w.srv, http.MethodPost, outbox.PreviewUnsubscribePath, "", nil, nil); st == 200 {
		t.Errorf("the preview link unsubscribed: %d", st)
	}
	if n := countSuppressions(t, w.env); n != 0 {
		t.Errorf("%d addresses suppressed by a preview link", n)
	}
}

// TestSystemActorRendersNoPrivateEmails: finding 9a — a workflow without runAs (the system
// actor) rendered users' private emails into subjects. A user's email is rendered only when
// they made it visible; the system may still mail them (the recipient is not rendered text).
func TestSystemActorRendersNoPrivateEmails(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.template(t, map[string]any{"name": "owner", "object": "deals", "subject": "Owner: {{.record.owner.email}}"})
	r, err := outbox.Render(w.app, "owner", outbox.RenderInput{Record: w.alicesDeal})
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Owner:" {
		t.Errorf("system render of a private email: subject %q", r.Subject)
	}
	w.alice.Set("emailVisibility", true)
	if err := w.app.Save(w.alice); err != nil {
		t.Fatal(err)
	}
	if r, err = outbox.Render(w.app, "owner", outbox.RenderInput{Record: w.alicesDeal}); err != nil || r.Subject != "Owner: alice@example.com" {
		t.Errorf("a visible email: subject %q, %v", r.Subject, err)
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct{ html, want string }{
		{"<p>One</p><p>Two &amp; three</p>", "One\n\nTwo & three\n"},
		{`<a href="https://x.test/a?b=1&amp;c=2">Read more</a>`, "Read more (https://x.test/a?b=1&c=2)\n"},
		{`<a href="https://x.test">https://x.test</a>`, "https://x.test\n"},
		{`<a href="mailto:a@x.test">a@x.test</a>`, "a@x.test\n"},
		{"<ul><li>a</li><li>b</li></ul>", "- a\n- b\n"},
		{"<head><title>T</title><style>p{}</style></head><body>Hi<br>there<script>x()</script></body>", "Hi\nthere\n"},
		{"a <!-- hidden --> b < c", "a b < c\n"},
		{`<img alt="Logo" src="x.png"> Hello`, "Logo Hello\n"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := outbox.HTMLToText(tt.html); got != tt.want {
			t.Errorf("HTMLToText(%q) = %q; want %q", tt.html, got, tt.want)
		}
	}
}
