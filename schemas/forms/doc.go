// Package forms publishes web forms generated from object definitions: a "Contact us" or
// "Request a demo" page that strangers fill in, embedded on any site, whose submissions
// create (or update) CRM records — validated, consented, and kept free of spam.
//
// # Definitions
//
// A form is a JSON file checked against form.schema.json (2020-12) and then against the
// object model ([Check]): the object exists, every field is one of its fields that may appear
// on forms, fields the object requires are on the form or hidden, hidden values are valid for
// their fields. Problems come back as [schemas.Errors] with file, line and JSON pointer.
//
//	{
//	  "slug": "contact-us", "title": "Contact us", "object": "contacts",
//	  "fields": [{"name": "full_name", "label": "Your name"}, {"name": "email", "required": true}],
//	  "hidden": {"source": "website"},
//	  "consent": {"text": "You may contact me about my request.", "version": "2026-01"},
//	  "dedupe": {"by": "email", "update": ["message"], "fill": ["phone"]}
//	}
//
// A relation field appears as a picker ([Picker]): the titles of the target's records that
// match the admin's filter, read through that filter only — as the system on a public form,
// as the signed-in user on a private one ([Form.Public] false: her list rule applies, so she
// is offered only records she may view) — and the picked id is checked against the same read
// again when the submission is stored. Inputs marked prefill take their
// value from the page's address, [Form.FromQuery] stores query parameters (UTM) in fields
// that are not on the form, and [Form.Create] creates linked records in the submission's
// transaction. Forms are read from files and from the web_forms collection (the web app's
// form editor), checked alike; files win on a shared slug.
//
// # Serving
//
// [Register] adds the forms to the app:
//
//	reg := schemas.MustRegister(app, app.RootCmd, schemas.Config{})
//	forms.MustRegister(app, app.RootCmd, forms.Config{Registry: reg, Dirs: []string{"./forms"}})
//
// When the server starts, it loads the definitions of [Config.Dirs] and adds these routes:
//
//   - GET /forms/{slug}: the page (html/template; accessible, mobile-friendly, works without
//     JavaScript); POST /forms/{slug} shows it again with errors, or the success message.
//   - GET /forms/{slug}/embed.js: a script that puts the page on another site in an iframe
//     that grows with its content.
//   - GET /api/relata/forms/{slug}: the public definition, its JSON Schema and a token;
//     POST /api/relata/forms/{slug}: a submission as JSON (or form data), answered with
//     {"ok": true, "message": …} or {"errors": {"field": "message"}}. CORS per form.
//
// # Submissions
//
// A submission is checked against a JSON Schema generated from the object's field
// definitions (types, required, lengths, patterns, options, ranges, formats) with
// jsonschema/v6, and each value against its field type. Only the form's fields are accepted:
// any other key — an unknown name, or a field of the object that is not on the form, such as
// owner — is refused with an error for that key. Text is stored as written and escaped
// wherever it is shown; control characters, and HTML tags in single-line text, are refused.
// A datetime field takes an RFC 3339 time or, as its page's datetime-local input sends, a
// local time without zone ("2026-12-10T14:30"), which is read as UTC — on the page and in
// JSON alike. Records the submission would link to (hidden relation values) and the form's
// owner must exist: otherwise the submission is refused with a 400 naming the field (or
// "_form" for the owner) and nothing is stored.
//
// The spam guard runs first: a honeypot input, a minimum fill time measured with a token
// signed with the server's secret, a rate limit per client address and form, and a maximum
// body size. Blocked submissions store nothing but a counter per form, reason and day
// (collection relata_form_blocks, see [Service.Blocked]).
//
// An accepted submission is stored in one transaction: the record (or, with dedupe, the
// existing record whose email matches, updated), a "consents" record with the consent text,
// version, time, client address and user agent, and a "form_submissions" record. Package
// hooks turns the creation of the form_submissions record into the "form submitted" workflow
// trigger, in the same transaction; this package knows nothing of workflows. A form's
// assignment rules ([schemas.Assignment]) pick the new record's owner in that transaction.
package forms
