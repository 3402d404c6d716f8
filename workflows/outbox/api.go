package outbox

import (
	"bytes"
	"errors"
	htmltemplate "html/template"
	"net/http"
	"net/mail"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// routes adds the outbox's HTTP endpoints:
//
//	GET  /unsubscribe/{token}                         confirmation page
//	POST /unsubscribe/{token}                         unsubscribe (also RFC 8058 one-click)
//	POST /api/relata/email-templates/{name}/preview   {"object", "recordId", "to"} → rendered email
func (s *Sender) routes(se *core.ServeEvent) {
	se.Router.GET("/unsubscribe/{token}", s.apiUnsubscribe)
	se.Router.POST("/unsubscribe/{token}", s.apiUnsubscribe)
	se.Router.POST("/api/relata/email-templates/{name}/preview", s.apiPreview).Bind(apis.RequireAuth())
}

var unsubscribePage = htmltemplate.Must(htmltemplate.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
button{font:inherit;padding:.5rem 1rem;cursor:pointer}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .Confirm}}<form method="post"><button type="submit">Unsubscribe</button></form>{{end}}
</body></html>`))

type pageData struct {
	Title, Message string
	Confirm        bool
}

func page(re *core.RequestEvent, status int, d pageData) error {
	var buf bytes.Buffer
	if err := unsubscribePage.Execute(&buf, d); err != nil {
		return err
	}
	re.Response.Header().Set("Cache-Control", "no-store")
	re.Response.Header().Set("Referrer-Policy", "no-referrer")
	return re.HTML(status, buf.String())
}

// apiUnsubscribe shows a confirmation page (GET: link scanners that follow links must not
// unsubscribe anyone) and unsubscribes on POST — the page's button, or a mail client's
// one-click request "List-Unsubscribe=One-Click" (RFC 8058).
func (s *Sender) apiUnsubscribe(re *core.RequestEvent) error {
	addr, emailID, err := s.ParseToken(re.Request.PathValue("token"))
	if errors.Is(err, ErrBadToken) {
		return page(re, http.StatusBadRequest, pageData{Title: "Invalid link",
			Message: "This unsubscribe link is not valid. Please use the link from the email you received."})
	}
	if err != nil {
		return err
	}
	if re.Request.Method == http.MethodGet {
		return page(re, http.StatusOK, pageData{Title: "Unsubscribe", Confirm: true,
			Message: "Stop marketing email to " + addr + "? You will still receive messages about your own requests and orders."})
	}
	source := "unsubscribe link"
	if emailID != "" {
		source = "unsubscribe link of email " + emailID
	}
	if err := Suppress(re.App, addr, ReasonUnsubscribe, source); err != nil {
		return err
	}
	return page(re, http.StatusOK, pageData{Title: "Unsubscribed",
		Message: addr + " will receive no more marketing email from us."})
}

// apiPreview renders a template for a record as the signed-in user. Only template editors
// (those the email_templates update rule lets through: admins and managers) may preview. A
// record they may not view is "not found", exactly like the records API says; fields they
// may not read (hidden ones, emails users keep private) render empty, and the recipient is
// taken from the record only when they may read it. The unsubscribe link of a preview is
// inert: it carries no signed token.
func (s *Sender) apiPreview(re *core.RequestEvent) error {
	var body struct {
		Object   string `json:"object"`
		RecordID string `json:"recordId"`
		To       string `json:"to"`
	}
	if err := re.BindBody(&body); err != nil {
		return re.BadRequestError("Invalid request body.", err)
	}
	actor := re.Auth
	caller := schemas.User(actor)
	tplRec, err := re.App.FindFirstRecordByData(TemplatesCollection, "name", re.Request.PathValue("name"))
	if err != nil {
		return re.NotFoundError("Template not found.", nil)
	}
	if ok, err := caller.CanView(re.App, tplRec); err != nil || !ok {
		return re.NotFoundError("Template not found.", nil)
	}
	if !caller.IsSuperuser() {
		ok, err := re.App.CanAccessRecord(tplRec, caller.RequestInfo(), tplRec.Collection().UpdateRule)
		if err != nil || !ok {
			return re.ForbiddenError("Only those who may edit email templates (admins and managers) may preview them.", nil)
		}
	}
	var rec *core.Record
	if body.RecordID != "" {
		if body.Object == "" {
			return re.BadRequestError("Give the object of the record.", nil)
		}
		rec, err = re.App.FindRecordById(body.Object, body.RecordID)
		if err != nil {
			return re.NotFoundError("Record not found.", nil)
		}
		if ok, err := caller.CanView(re.App, rec); err != nil || !ok {
			return re.NotFoundError("Record not found.", nil)
		}
	}
	to := s.recipientOf(rec, caller)
	if body.To != "" {
		a, err := parseAddress(body.To)
		if err != nil {
			return re.BadRequestError(err.Error(), nil)
		}
		to = *a
	}
	eff, err := s.cfg.resolve(re.App)
	if err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	r, err := templateOf(tplRec).Render(re.App, RenderInput{Record: rec, Actor: actor, Recipient: to, Sender: eff.from})
	var te *TemplateError
	switch {
	case errors.Is(err, ErrNoAccess):
		return re.NotFoundError("Record not found.", nil)
	case errors.As(err, &te):
		return re.BadRequestError("The template does not render: "+te.Error(), map[string]any{
			te.Part: map[string]any{"code": "invalid_template", "message": te.Error(), "line": te.Line}})
	case err != nil:
		return err
	}
	// never a signed token: a preview must not hand out a working unsubscribe link
	link := eff.publicURL + PreviewUnsubscribePath
	r.HTML = strings.ReplaceAll(r.HTML, UnsubscribePlaceholder, link)
	r.Text = strings.ReplaceAll(r.Text, UnsubscribePlaceholder, link)
	out := map[string]any{
		"template": r.Template, "category": r.Category, "subject": r.Subject, "html": r.HTML, "text": r.Text,
		"to": "", "from": eff.from.String(),
	}
	if to.Address != "" {
		out["to"] = to.String()
	}
	return re.JSON(http.StatusOK, out)
}

// PreviewUnsubscribePath is the inert unsubscribe link previews show (after the public URL):
// it is no valid token, so following it unsubscribes nobody.
const PreviewUnsubscribePath = "/unsubscribe/preview-link-not-valid"

// recipientOf is the address a record would be mailed at: its first email field, named after
// its title field.
func (s *Sender) recipientOf(rec *core.Record, caller schemas.Caller) mail.Address {
	if rec == nil || !caller.MayReadEmail(rec) {
		return mail.Address{}
	}
	var a mail.Address
	for _, f := range rec.Collection().Fields {
		if _, ok := f.(*core.EmailField); ok && !f.GetHidden() {
			if a.Address = rec.GetString(f.GetName()); a.Address != "" {
				break
			}
		}
	}
	if s.cfg.Registry != nil {
		if o, ok := s.cfg.Registry.Object(rec.Collection().Name); ok && o.TitleField != "" {
			a.Name = rec.GetString(o.TitleField)
		}
	}
	return a
}
