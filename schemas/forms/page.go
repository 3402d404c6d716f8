package forms

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

var (
	pageTmpl  = template.Must(template.ParseFS(files, "templates/form.html"))
	embedTmpl = texttemplate.Must(texttemplate.ParseFS(files, "templates/embed.js"))
	pageCSS   = mustRead("templates/form.css")
	pageJS    = mustRead("templates/form.js")
)

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err) // embedded: always there
	}
	return string(b)
}

// pageData is what templates/form.html renders.
type pageData struct {
	Slug, Title, Description string
	Embed                    bool
	Nonce                    string
	CSS                      template.CSS
	JS                       template.JS
	Action                   string
	Multipart                bool
	Token                    string
	Inputs                   []*pageInput
	Consent                  *pageConsent
	Honeypot                 string
	Captured                 []pageChoice // query parameters the form stores (Form.FromQuery)
	SubmitLabel              string
	Errors                   []pageError
	Success                  bool
	SuccessMessage           string
}

type pageInput struct {
	*input
	ID           string
	Help         string
	Type         string // the type attribute of an <input>
	Value        string
	Checked      bool
	Choices      []pageChoice
	Error        string
	DescribedBy  string
	Autofocus    bool
	HTMLPattern  string
	MinAttr      string
	MaxAttr      string
	Step         string
	Accept       string
	Autocomplete string
	InputMode    string
}

type pageChoice struct {
	Value, Label string
	Checked      bool
}

type pageConsent struct {
	Text, URL, Error string
	Required         bool
	Checked          bool
	Autofocus        bool
}

type pageError struct {
	Href, Label, Message string
}

// pageState is what a page shows besides the form itself.
type pageState struct {
	token   string
	sub     *submission
	errors  FieldErrors
	success bool
}

// render writes the form's page: the empty form, the form again with its errors, or the
// success message. Everything submitted is escaped by html/template.
func (s *Service) render(e *core.RequestEvent, c *compiled, status int, st pageState) error {
	f := c.form
	embed := e.Request.URL.Query().Get("embed") == "1"
	action := "/forms/" + url.PathEscape(f.Slug)
	if embed {
		action += "?embed=1"
	}
	d := &pageData{
		Slug: f.Slug, Title: f.Title, Description: f.Description, Embed: embed,
		Nonce: nonce(), CSS: template.CSS(pageCSS), JS: template.JS(pageJS),
		Action: action, Token: st.token, Honeypot: f.Spam.HoneypotName(), SubmitLabel: f.submitLabel(),
		Success: st.success, SuccessMessage: f.successMessage(),
	}
	raw := map[string][]string{}
	switch {
	case st.sub != nil:
		raw = st.sub.raw
	case !st.success:
		if pre := c.prefill(e.Request.URL.Query()); pre != nil {
			raw = pre
		}
	}
	for _, cp := range c.captures {
		if v := raw[cp.Param]; len(v) > 0 && v[0] != "" {
			d.Captured = append(d.Captured, pageChoice{Value: cp.Param, Label: v[0]})
		}
	}
	first := ""
	reader := c.pickerReader(e.Auth)
	for _, in := range c.inputs {
		pi := c.pageInput(in, raw[in.Name], st.errors[in.Name])
		if in.Kind == kindPicker && !st.success {
			opts, err := pickerChoices(s.app, reader, in)
			if err != nil {
				return err
			}
			for _, o := range opts {
				pi.Choices = append(pi.Choices, pageChoice{Value: o.Value, Label: o.Label, Checked: slices.Contains(raw[in.Name], o.Value)})
			}
		}
		if pi.Kind == kindFile {
			d.Multipart = true
		}
		if pi.Error != "" {
			d.Errors = append(d.Errors, pageError{Href: "#" + pi.ID, Label: in.Label, Message: pi.Error})
			if first == "" {
				first, pi.Autofocus = in.Name, true
			}
		}
		d.Inputs = append(d.Inputs, pi)
	}
	if cf := f.Consent; cf != nil {
		pc := &pageConsent{Text: cf.Text, URL: cf.URL, Required: cf.IsRequired(), Error: st.errors[KeyConsent]}
		if v := raw[KeyConsent]; len(v) > 0 {
			pc.Checked, _ = truthy(v[0])
		}
		if pc.Error != "" {
			d.Errors = append(d.Errors, pageError{Href: "#f-_consent", Label: "Consent", Message: pc.Error})
			if first == "" {
				first, pc.Autofocus = KeyConsent, true
			}
		}
		d.Consent = pc
	}
	// Errors of no input: the whole submission, the token, the trap, keys that are not fields.
	var other []string
	for k := range st.errors {
		if c.input(k) == nil && k != KeyConsent {
			other = append(other, k)
		}
	}
	slices.Sort(other)
	for _, k := range other {
		label := k
		switch k {
		case KeyForm:
			label = "Form"
		case KeyToken:
			label = "Form"
		}
		d.Errors = append(d.Errors, pageError{Label: label, Message: st.errors[k]})
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		return err
	}
	h := e.Response.Header()
	h.Del("X-Frame-Options") // the page is meant to be embedded; frame-ancestors says where
	h.Set("Content-Security-Policy", c.pageCSP(d.Nonce))
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	return e.HTML(status, buf.String())
}

// pageCSP allows the page's own inline style and script (by nonce), posting to itself (and
// the redirect target), and being framed by the form's allowed origins.
func (c *compiled) pageCSP(nonce string) string {
	formAction := "'self'"
	if u, err := url.Parse(c.form.RedirectURL); err == nil && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	ancestors := "*"
	if origins := c.form.allowOrigins(); !slices.Contains(origins, "*") {
		ancestors = "'self' " + strings.Join(origins, " ")
	}
	return "default-src 'none'; style-src 'nonce-" + nonce + "'; script-src 'nonce-" + nonce + "'; img-src 'self' data:; " +
		"form-action " + formAction + "; frame-ancestors " + ancestors + "; base-uri 'none'"
}

func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// pageInput prepares one input: its HTML type and attributes (the client-side checks come
// from the same definition as the server's), what was typed, and its error.
func (c *compiled) pageInput(in *input, raw []string, errMsg string) *pageInput {
	pi := &pageInput{input: in, ID: "f-" + in.Name, Help: in.Help, Error: errMsg}
	first := ""
	if len(raw) > 0 {
		first = raw[0]
	}
	var described []string
	if in.Help != "" {
		described = append(described, pi.ID+"-help")
	}
	if errMsg != "" {
		described = append(described, pi.ID+"-error")
	}
	pi.DescribedBy = strings.Join(described, " ")
	switch in.Kind {
	case kindCheckbox:
		pi.Checked, _ = truthy(first)
	case kindSelect, kindCheckboxes:
		for _, o := range in.Options {
			label := o.Label
			if label == "" {
				label = o.Value
			}
			pi.Choices = append(pi.Choices, pageChoice{Value: o.Value, Label: label, Checked: slices.Contains(raw, o.Value)})
		}
	default:
		pi.Value = first
	}
	switch in.Kind {
	case kindText, kindTextarea:
		pi.Type = "text"
		pi.HTMLPattern = htmlPattern(in.Pattern)
	case kindTel:
		pi.Type = "tel"
		pi.HTMLPattern = htmlPattern(in.Pattern)
		pi.Autocomplete = "tel"
	case kindEmail:
		pi.Type = "email"
		pi.Autocomplete = "email"
	case kindURL:
		pi.Type = "url"
		pi.Autocomplete = "url"
	case kindNumber:
		pi.Type, pi.Step, pi.InputMode = "number", "any", "decimal"
		if in.Min != nil {
			pi.MinAttr = strconv.FormatFloat(*in.Min, 'f', -1, 64)
		}
		if in.Max != nil {
			pi.MaxAttr = strconv.FormatFloat(*in.Max, 'f', -1, 64)
		}
	case kindDate:
		pi.Type = "date"
	case kindDateTime:
		pi.Type = "datetime-local"
	case kindTags:
		pi.Type = "text"
		if pi.Help == "" {
			pi.Help = "Separate several with commas."
			pi.DescribedBy = strings.TrimSpace(pi.ID + "-help " + pi.DescribedBy)
		}
	case kindFile:
		pi.Type = "file"
		pi.Accept = strings.Join(in.MimeTypes, ",")
	}
	if pi.Autocomplete == "" {
		pi.Autocomplete = autocompleteFor(in.Field)
	}
	return pi
}

// autocompleteFor guesses the autocomplete token of common contact fields from their name.
func autocompleteFor(f *schemas.Field) string {
	switch f.Name {
	case "full_name", "name":
		return "name"
	case "first_name", "given_name":
		return "given-name"
	case "last_name", "family_name":
		return "family-name"
	case "job_title", "title":
		return "organization-title"
	case "company_name", "organization":
		return "organization"
	case "country":
		return "country-name"
	case "address":
		return "street-address"
	}
	return ""
}

// htmlPattern turns a pattern of the object definition (Go syntax, anchored with ^ and $)
// into one for the HTML pattern attribute, which browsers compile as a JavaScript regular
// expression with the v flag and anchor themselves. Patterns using Go-only syntax are left
// to the server.
func htmlPattern(p string) string {
	if p == "" || strings.Contains(p, "(?") || strings.Contains(p, "[[:") || strings.Contains(p, `\z`) ||
		strings.Contains(p, `\A`) || strings.Contains(p, `\p`) || strings.Contains(p, `\Q`) {
		return ""
	}
	p = strings.TrimPrefix(p, "^")
	if strings.HasSuffix(p, "$") && !strings.HasSuffix(p, `\$`) {
		p = strings.TrimSuffix(p, "$")
	}
	// In a v-flag character class, ( ) [ { } / - | must be escaped.
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		ch := p[i]
		switch {
		case ch == '\\' && i+1 < len(p):
			b.WriteByte(ch)
			b.WriteByte(p[i+1])
			i++
			continue
		case !inClass && ch == '[':
			inClass = true
			b.WriteByte(ch)
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			continue
		case inClass && ch == ']':
			inClass = false
		case inClass && strings.IndexByte("()[{}/|", ch) >= 0:
			b.WriteByte('\\')
		case inClass && ch == '-':
			// A range (a-z) keeps its dash; a dash at either end of the class is literal.
			prevOpen := b.Len() > 0 && (strings.HasSuffix(b.String(), "[") || strings.HasSuffix(b.String(), "[^"))
			if prevOpen || i+1 < len(p) && p[i+1] == ']' {
				b.WriteByte('\\')
			}
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// embedScript writes the script that puts the form on another site (see README, Forms).
func (s *Service) embedScript(e *core.RequestEvent, c *compiled) error {
	js := func(v string) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	var buf bytes.Buffer
	if err := embedTmpl.Execute(&buf, map[string]string{"Slug": js(c.form.Slug), "Title": js(c.form.Title)}); err != nil {
		return err
	}
	h := e.Response.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	return e.Blob(http.StatusOK, "text/javascript; charset=utf-8", buf.Bytes())
}
