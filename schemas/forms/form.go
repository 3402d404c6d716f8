package forms

import "github.com/relata/relata/schemas"

// Form is one form definition: a public web form that creates (or, with [Dedupe], updates) a
// record of an object. It is read from a JSON file checked against form.schema.json.
type Form struct {
	// Slug names the form in URLs: /forms/{slug}.
	Slug string `json:"slug"`
	// Title is the form's heading; Description is shown under it.
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Object is the object a submission creates a record of ("contacts").
	Object string `json:"object"`
	// Public, when false, hides the form from anonymous callers: only signed-in CRM users and
	// superusers reach it, and its pickers offer (and accept) only the records the user may
	// view. Default: true.
	Public *bool `json:"public,omitempty"`
	// Fields are the inputs, in order. Only these fields can be set by a submission.
	Fields []*Field `json:"fields"`
	// Hidden are fixed values set on every record the form creates ({"source": "website"}).
	// They may name any field of the object; each value must be valid for its field.
	Hidden map[string]any `json:"hidden,omitempty"`
	// SubmitLabel is the text of the submit button. Default: "Submit".
	SubmitLabel string `json:"submitLabel,omitempty"`
	// SuccessMessage is shown after an accepted submission. Default: a short thank-you.
	SuccessMessage string `json:"successMessage,omitempty"`
	// RedirectURL, instead of the message, is where the browser goes after an accepted
	// submission.
	RedirectURL string `json:"redirectUrl,omitempty"`
	// Consent, when set, adds a consent checkbox; the consent given is stored as a record.
	Consent *Consent `json:"consent,omitempty"`
	// Dedupe, when set, makes a submission whose email matches an existing record update that
	// record instead of creating a duplicate.
	Dedupe *Dedupe `json:"dedupe,omitempty"`
	// Spam configures the spam guard.
	Spam Spam `json:"spam,omitzero"`
	// Owner is the email of the CRM user who owns every record the form creates. Default: none.
	Owner string `json:"owner,omitempty"`
	// Assign, instead of Owner, picks the owner of each new record (and of a deduplicated
	// record that has none) by assignment rules: round robin or least loaded across a team,
	// by territory or any field. See [schemas.Assignment].
	Assign *schemas.Assignment `json:"assign,omitempty"`
	// FromQuery captures query parameters of the page's address into fields of the record:
	// {"utm_source": "utm_source", "utm_campaign": "campaign"} maps a parameter to a field
	// that is not on the form. The page carries them in hidden inputs; a submission may set
	// them under the parameter's name, and each value is checked as its field's value.
	FromQuery map[string]string `json:"fromQuery,omitempty"`
	// Create lists records of other objects created with each new record, in the same
	// transaction, linked to it: an application for the picked job, pointing at the new
	// candidate. See [Linked].
	Create []*Linked `json:"create,omitempty"`
	// AllowOrigins lists the sites ("https://www.example.com") that may embed the form and call
	// its JSON endpoint from a browser. Default: every site ("*").
	AllowOrigins []string `json:"allowOrigins,omitempty"`

	// file is where the definition was read from, for error messages.
	file string
}

// Field is one input of a form: a field of the form's object, with optional overrides.
type Field struct {
	// Name is the name of the object's field.
	Name string `json:"name"`
	// Label overrides the field's label.
	Label string `json:"label,omitempty"`
	// Placeholder is the example text shown in an empty input.
	Placeholder string `json:"placeholder,omitempty"`
	// Help is shown under the label. The object's help is written for CRM users and is not
	// shown on forms.
	Help string `json:"help,omitempty"`
	// Required overrides the field's required flag; a field the object requires cannot be
	// made optional.
	Required *bool `json:"required,omitempty"`
	// Prefill lets the page's address fill the input in: /forms/contact?email=a@example.com.
	// The visitor sees the value and may change it; it is checked like a typed value.
	Prefill bool `json:"prefill,omitempty"`
	// Picker makes a relation field a list to choose from: the titles of the target's records
	// that match the admin's filter (and only those; nothing else of them is shown).
	Picker *Picker `json:"picker,omitempty"`
}

// Linked is a record of another object that a form creates with its record.
type Linked struct {
	// Object is the object of the linked record ("applications").
	Object string `json:"object"`
	// LinkTo is the relation field of Object that points at the form's new record.
	LinkTo string `json:"linkTo"`
	// Copy sets fields of the linked record from the submission: linked field -> a field
	// of the form, hidden or taken from the address ({"job": "applied_for"}).
	Copy map[string]string `json:"copy,omitempty"`
	// Values are fixed values of the linked record ({"stage": "applied"}), checked like hidden
	// values; relations among them must name existing records.
	Values map[string]any `json:"values,omitempty"`
}

// Picker configures the choices of a relation field on a form.
type Picker struct {
	// Filter selects the records offered, in PocketBase filter syntax ("status = 'open'");
	// empty offers every record. A submitted id must match it too.
	Filter string `json:"filter,omitempty"`
	// Sort orders the choices ("title", "-created"). Default: by title.
	Sort string `json:"sort,omitempty"`
}

// MaxPickerChoices bounds the choices of one picker.
const MaxPickerChoices = 500

// Consent is the consent a form asks for.
type Consent struct {
	// Text is shown beside the checkbox and stored, exactly, with every consent given.
	Text string `json:"text"`
	// Version names the text's version ("2026-01"); change it whenever the text changes.
	Version string `json:"version"`
	// URL links to the full privacy policy.
	URL string `json:"url,omitempty"`
	// Required refuses submissions without consent. Default: true.
	Required *bool `json:"required,omitempty"`
	// Purpose is what the consent is for: "marketing_email" (default), "profiling" or "service".
	Purpose string `json:"purpose,omitempty"`
	// Basis is the legal basis recorded with it (GDPR art. 6): "consent" (default),
	// "contract", "legitimate_interest" or "legal_obligation".
	Basis string `json:"basis,omitempty"`
	// DoubleOptIn sends a confirmation email with a signed link; the consent counts only once
	// the person has confirmed it. The form must ask for the record's email. A submission
	// that matches an existing record (Dedupe) is confirmed this way even without it.
	DoubleOptIn bool `json:"doubleOptIn,omitempty"`
}

// Consent purposes and legal bases.
const (
	PurposeMarketing = "marketing_email"
	BasisConsent     = "consent"
)

// PurposeOrDefault is the consent's purpose, [PurposeMarketing] when unset.
func (c *Consent) PurposeOrDefault() string {
	if c.Purpose == "" {
		return PurposeMarketing
	}
	return c.Purpose
}

// BasisOrDefault is the consent's legal basis, [BasisConsent] when unset.
func (c *Consent) BasisOrDefault() string {
	if c.Basis == "" {
		return BasisConsent
	}
	return c.Basis
}

// IsRequired reports whether the form refuses submissions without consent.
func (c *Consent) IsRequired() bool { return c.Required == nil || *c.Required }

// Dedupe says how a submission finds an existing record to update.
type Dedupe struct {
	// By is an email field of the form; a submission whose value matches an existing
	// record's (ignoring case) updates that record.
	By string `json:"by"`
	// Update lists fields whose submitted (or hidden) value replaces the existing record's.
	Update []string `json:"update,omitempty"`
	// Fill lists fields set on the existing record only where it is empty.
	Fill []string `json:"fill,omitempty"`
}

// Spam configures the spam guard of a form. Every check can be turned off.
type Spam struct {
	// Honeypot is the name of a trap input hidden from people; a submission that fills it in
	// is blocked. Default: "homepage".
	Honeypot string `json:"honeypot,omitempty"`
	// MinFillSeconds blocks submissions sent sooner than this after the form was served
	// (measured with a signed token). 0 turns the check off. Default: 3.
	MinFillSeconds *int `json:"minFillSeconds,omitempty"`
	// RatePerMinute and RatePerHour bound the submissions from one client address. 0 means
	// unlimited. Default: 5 and 30.
	RatePerMinute *int `json:"ratePerMinute,omitempty"`
	RatePerHour   *int `json:"ratePerHour,omitempty"`
	// MaxBodyBytes is the largest request body accepted. Default: 64 KiB plus the size limits
	// of the form's file fields.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty"`
}

// Spam defaults.
const (
	DefaultHoneypot       = "homepage"
	DefaultMinFillSeconds = 3
	DefaultRatePerMinute  = 5
	DefaultRatePerHour    = 30
	DefaultMaxBodyBytes   = 64 << 10
)

// Meta keys of a submission: they travel with the fields but are not fields.
const (
	// KeyConsent carries the consent checkbox (true when ticked).
	KeyConsent = "_consent"
	// KeyToken carries the signed token the form was served with (minimum fill time).
	KeyToken = "_token"
	// KeyForm is the key of errors that concern the whole submission.
	KeyForm = "_form"
)

// IsPublic reports whether anonymous callers reach the form.
func (f *Form) IsPublic() bool { return f.Public == nil || *f.Public }

// File returns the name of the file the definition was read from.
func (f *Form) File() string { return f.file }

// Field returns the form's field with the given name, or nil.
func (f *Form) Field(name string) *Field {
	for _, ff := range f.Fields {
		if ff.Name == name {
			return ff
		}
	}
	return nil
}

// HoneypotName is the name of the form's trap input.
func (s Spam) HoneypotName() string {
	if s.Honeypot == "" {
		return DefaultHoneypot
	}
	return s.Honeypot
}

// MinFill is the minimum fill time in seconds (0: no check).
func (s Spam) MinFill() int { return intOr(s.MinFillSeconds, DefaultMinFillSeconds) }

// PerMinute is the per-address limit per minute (0: unlimited).
func (s Spam) PerMinute() int { return intOr(s.RatePerMinute, DefaultRatePerMinute) }

// PerHour is the per-address limit per hour (0: unlimited).
func (s Spam) PerHour() int { return intOr(s.RatePerHour, DefaultRatePerHour) }

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// successMessage is the message shown after an accepted submission.
func (f *Form) successMessage() string {
	if f.SuccessMessage != "" {
		return f.SuccessMessage
	}
	return "Thank you. We received your message."
}

func (f *Form) submitLabel() string {
	if f.SubmitLabel != "" {
		return f.SubmitLabel
	}
	return "Submit"
}

func (f *Form) allowOrigins() []string {
	if len(f.AllowOrigins) == 0 {
		return []string{"*"}
	}
	return f.AllowOrigins
}
