package forms

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// routes adds the pages and the JSON endpoint of the forms.
func (s *Service) routes(se *core.ServeEvent) {
	se.Router.GET("/confirm/{token}", s.handleConfirm)
	se.Router.POST("/confirm/{token}", s.handleConfirm)
	se.Router.GET("/forms/{slug}", s.handlePage)
	se.Router.POST("/forms/{slug}", s.handlePagePost)
	se.Router.GET("/forms/{slug}/embed.js", s.handleEmbed)
	api := se.Router.Group("/api/relata/forms")
	// Replaces the server-wide CORS handler on these routes: each form says which sites may
	// call it from a browser.
	api.Bind(&hook.Handler[*core.RequestEvent]{
		Id:       apis.DefaultCorsMiddlewareId,
		Priority: apis.DefaultCorsMiddlewarePriority,
		Func:     s.cors,
	})
	api.GET("/{slug}", s.handleDefinition)
	api.POST("/{slug}", s.handleSubmit)
	api.OPTIONS("/{slug}", func(e *core.RequestEvent) error { return e.NoContent(http.StatusNoContent) })
}

// cors answers cross-origin requests of the JSON endpoint for the origins the form allows.
func (s *Service) cors(e *core.RequestEvent) error {
	h := e.Response.Header()
	h.Add("Vary", "Origin")
	preflight := e.Request.Method == http.MethodOptions
	if origin := e.Request.Header.Get("Origin"); origin != "" {
		allowed := ""
		if f, ok := s.Form(e.Request.PathValue("slug")); ok {
			for _, o := range f.allowOrigins() {
				if o == "*" {
					allowed = "*"
					break
				}
				if strings.EqualFold(o, origin) {
					allowed = origin
				}
			}
		}
		if allowed != "" {
			h.Set("Access-Control-Allow-Origin", allowed)
			if preflight {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
				h.Set("Access-Control-Max-Age", "86400")
			} else {
				h.Set("Access-Control-Expose-Headers", "Retry-After")
			}
		}
	}
	if preflight {
		return e.NoContent(http.StatusNoContent)
	}
	return e.Next()
}

// form finds the form of the request and checks that the caller may use it: anyone for a
// public form, signed-in CRM users and superusers for the others.
func (s *Service) form(e *core.RequestEvent) (*compiled, int, error) {
	c, err := s.lookup(e.Request.PathValue("slug"))
	switch {
	case errors.Is(err, errNoForm):
		return nil, http.StatusNotFound, err
	case err != nil:
		return nil, http.StatusServiceUnavailable, err
	}
	if !c.form.IsPublic() && (e.Auth == nil || !e.Auth.IsSuperuser() && e.Auth.Collection().Name != schemas.UsersCollection) {
		return nil, http.StatusNotFound, errNoForm
	}
	return c, http.StatusOK, nil
}

func (s *Service) handlePage(e *core.RequestEvent) error {
	c, status, err := s.form(e)
	if err != nil {
		return plainPage(e, status)
	}
	tok, err := s.Token(c.form.Slug, s.cfg.Now())
	if err != nil {
		return err
	}
	return s.render(e, c, http.StatusOK, pageState{token: tok})
}

func (s *Service) handlePagePost(e *core.RequestEvent) error {
	c, status, err := s.form(e)
	if err != nil {
		return plainPage(e, status)
	}
	r := s.submit(e, c)
	if r.status == http.StatusOK {
		if c.form.RedirectURL != "" {
			return e.Redirect(http.StatusSeeOther, c.form.RedirectURL)
		}
		return s.render(e, c, http.StatusOK, pageState{success: true})
	}
	if r.retryAfter > 0 {
		e.Response.Header().Set("Retry-After", strconv.Itoa(int(r.retryAfter.Seconds())+1))
	}
	// Keep the token the form was served with (the fill time keeps counting), unless it was
	// refused: then the page comes with a fresh one.
	tok := ""
	if r.sub != nil && r.blocked != BlockBadToken {
		tok, _ = r.sub.doc[KeyToken].(string)
	}
	if tok == "" {
		if tok, err = s.Token(c.form.Slug, s.cfg.Now()); err != nil {
			return err
		}
	}
	return s.render(e, c, r.status, pageState{token: tok, sub: r.sub, errors: r.errors})
}

func (s *Service) handleEmbed(e *core.RequestEvent) error {
	c, status, err := s.form(e)
	if err != nil {
		return e.String(status, "// "+err.Error())
	}
	return s.embedScript(e, c)
}

// submitResponse is the JSON answer to a submission.
type submitResponse struct {
	OK       bool              `json:"ok"`
	Message  string            `json:"message,omitempty"`
	Redirect string            `json:"redirect,omitempty"`
	Errors   map[string]string `json:"errors,omitempty"`
}

func (s *Service) handleSubmit(e *core.RequestEvent) error {
	c, status, err := s.form(e)
	if err != nil {
		return e.JSON(status, submitResponse{Message: err.Error()})
	}
	r := s.submit(e, c)
	if r.status == http.StatusOK {
		res := submitResponse{OK: true, Redirect: c.form.RedirectURL}
		if res.Redirect == "" {
			res.Message = c.form.successMessage()
		}
		return e.JSON(http.StatusOK, res)
	}
	if r.retryAfter > 0 {
		e.Response.Header().Set("Retry-After", strconv.Itoa(int(r.retryAfter.Seconds())+1))
	}
	msg := "The submission has problems; see errors."
	switch r.status {
	case http.StatusTooManyRequests:
		msg = "Too many submissions."
	case http.StatusRequestEntityTooLarge:
		msg = "The submission is too large."
	case http.StatusInternalServerError:
		msg = "The submission could not be saved."
	}
	return e.JSON(r.status, submitResponse{Message: msg, Errors: r.errors})
}

// PublicForm is what GET /api/relata/forms/{slug} returns: everything a site needs to show
// the form in its own HTML and post it.
type PublicForm struct {
	Slug           string         `json:"slug"`
	Title          string         `json:"title"`
	Description    string         `json:"description,omitempty"`
	Object         string         `json:"object"`
	SubmitLabel    string         `json:"submitLabel"`
	SuccessMessage string         `json:"successMessage,omitempty"`
	RedirectURL    string         `json:"redirectUrl,omitempty"`
	Fields         []PublicField  `json:"fields"`
	Consent        *PublicConsent `json:"consent,omitempty"`
	// Honeypot is the name of the trap input: leave it out, or send it empty.
	Honeypot string `json:"honeypot"`
	// MinFillSeconds: send Token back no sooner than this after you got it.
	MinFillSeconds int    `json:"minFillSeconds"`
	Token          string `json:"token"`
	// Submit says where and how to post.
	Submit PublicSubmit `json:"submit"`
	// Schema is the JSON Schema (2020-12) submissions are checked with.
	Schema map[string]any `json:"schema"`
	// FromQuery lists the query parameters of the page's address the form stores
	// (utm_source, …): send them under these names.
	FromQuery []string `json:"fromQuery,omitempty"`
}

// PublicField is one input of a [PublicForm].
type PublicField struct {
	Name        string           `json:"name"`
	Label       string           `json:"label"`
	Placeholder string           `json:"placeholder,omitempty"`
	Help        string           `json:"help,omitempty"`
	Type        string           `json:"type"`
	Required    bool             `json:"required"`
	Options     []schemas.Option `json:"options,omitempty"`
	MinLength   int              `json:"minLength,omitempty"`
	MaxLength   int              `json:"maxLength,omitempty"`
	Pattern     string           `json:"pattern,omitempty"`
	Min         *float64         `json:"min,omitempty"`
	Max         *float64         `json:"max,omitempty"`
	Multiple    bool             `json:"multiple,omitempty"`
	MaxSize     int64            `json:"maxSize,omitempty"`
	MimeTypes   []string         `json:"mimeTypes,omitempty"`
}

// PublicConsent is the consent of a [PublicForm]; send "_consent": true when it is given.
type PublicConsent struct {
	Text     string `json:"text"`
	Version  string `json:"version"`
	URL      string `json:"url,omitempty"`
	Required bool   `json:"required"`
}

// PublicSubmit says where a [PublicForm] is posted.
type PublicSubmit struct {
	URL          string   `json:"url"`
	Method       string   `json:"method"`
	ContentTypes []string `json:"contentTypes"`
}

func (s *Service) handleDefinition(e *core.RequestEvent) error {
	c, status, err := s.form(e)
	if err != nil {
		return e.JSON(status, submitResponse{Message: err.Error()})
	}
	tok, err := s.Token(c.form.Slug, s.cfg.Now())
	if err != nil {
		return err
	}
	p := c.public(tok)
	for i, in := range c.inputs {
		if in.Kind != kindPicker {
			continue
		}
		opts, err := pickerChoices(s.app, c.pickerReader(e.Auth), in)
		if err != nil {
			return err
		}
		p.Fields[i].Options = opts
	}
	e.Response.Header().Set("Cache-Control", "no-store")
	return e.JSON(http.StatusOK, p)
}

func (c *compiled) public(token string) *PublicForm {
	f := c.form
	p := &PublicForm{
		Slug: f.Slug, Title: f.Title, Description: f.Description, Object: c.obj.Name,
		SubmitLabel: f.submitLabel(), RedirectURL: f.RedirectURL,
		Honeypot: f.Spam.HoneypotName(), MinFillSeconds: f.Spam.MinFill(), Token: token,
		Submit: PublicSubmit{URL: "/api/relata/forms/" + f.Slug, Method: http.MethodPost,
			ContentTypes: []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}},
		Schema: c.schemaDoc,
	}
	if f.RedirectURL == "" {
		p.SuccessMessage = f.successMessage()
	}
	for _, in := range c.inputs {
		pf := PublicField{Name: in.Name, Label: in.Label, Placeholder: in.Placeholder, Help: in.Help, Type: in.Kind,
			Required: in.Required, Options: in.Options, MinLength: in.MinLength, MaxLength: in.MaxLength,
			Pattern: in.Pattern, Min: in.Min, Max: in.Max}
		if in.Kind == kindFile {
			pf.Multiple, pf.MaxSize, pf.MimeTypes = in.Multiple, in.MaxSize, in.MimeTypes
		}
		p.Fields = append(p.Fields, pf)
	}
	for _, cp := range c.captures {
		p.FromQuery = append(p.FromQuery, cp.Param)
	}
	if cf := f.Consent; cf != nil {
		p.Consent = &PublicConsent{Text: cf.Text, Version: cf.Version, URL: cf.URL, Required: cf.IsRequired()}
	}
	return p
}

// plainPage answers a page request that has no form to show.
func plainPage(e *core.RequestEvent, status int) error {
	msg := "This form does not exist."
	if status == http.StatusServiceUnavailable {
		msg = "This form is not available right now. Please try again later."
	}
	return e.HTML(status, `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Form</title><p>`+msg+`</p></html>`)
}
