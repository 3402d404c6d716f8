// Package outbox is Relata's email: every email is a record of the "emails" collection,
// queued in the transaction of the change that caused it, then delivered over SMTP with
// go-mail by a sender worker, rendered from templates admins edit, logged on the timeline of
// the record it is about, and never sent as marketing to someone who unsubscribed.
//
// # Queueing
//
// Workflow actions (and any Go code) queue a message with [Enqueue], passing their
// transaction; an idempotency key (the workflow step) makes a repeated call return the email
// already queued:
//
//	rec, err := outbox.Enqueue(txApp, outbox.Message{
//		To: []string{"Ada Lovelace <ada@example.com>"}, Subject: "Hi", HTML: "<p>Hello</p>",
//		Object: "contacts", RecordID: contact.Id, IdempotencyKey: stepKey,
//	})
//
// Addresses are parsed, and a line break in any header value (subject, addresses) is refused
// with [ErrInvalid], when queued and again when sent. Without a text part, one is derived
// from the HTML ([HTMLToText]).
//
// # Emails to users
//
// A message to CRM users says which recipients they are ([Message.UserIDs], stored as
// to_users): notifications, digests and a workflow's email to a record's owner do. When emails
// are read through the API (lists, views, expands, realtime), the address of a recipient who
// keeps hers hidden is shown only to superusers and to her; the others read
// [HiddenRecipient] ("user <id> (address hidden)") in "to" and wherever the email printed it.
// Filters and sorts by to, text, html and last_error are refused to all but superusers
// (schemas.RestrictField); to_users finds a user's emails. Delivery reads the stored address.
//
// # Templates
//
// Templates live in the "email_templates" collection (name, subject, html, text, category,
// description, object), edited in the dashboard by admins and managers and checked when
// saved ([Template.Check]): a syntax error — or, for a template tied to an object, a
// placeholder naming no field — is refused with its line. [Render] renders one for a record
// as a user: the record and its related records are read only if that user may view them.
// See [Template] for the placeholders. POST /api/relata/email-templates/{name}/preview
// renders one for the signed-in user.
//
// # Delivery
//
// [Register] adds the sender to the app; its workers start with the server:
//
//	sender := outbox.MustRegister(app, outbox.Config{Registry: reg, BatchSize: 50})
//
// A worker claims due emails atomically (status "sending", with a lease: an email still
// sending when its lease ends — its sender crashed — is sent again, with the same Message-ID,
// derived from the idempotency key, so the receiver can drop the duplicate), sends a batch
// over one SMTP connection and records each outcome: "sent" with its Message-ID and the time;
// after a 4xx reply or a network error, a retry with exponential backoff and jitter; after a
// 5xx reply, "failed" with the server's reply in last_error; after MaxAttempts, "failed".
// The SMTP server, sender and TLS mode come from [Config], else RELATA_* environment
// variables, else PocketBase's mail settings (see [SMTP]). Tests send deterministically with
// [Sender.Drain].
//
// A sent email about a record becomes a done activity of type "email" on that record's
// timeline, written in the transaction that marks the email sent. Everyone who may view the
// record reads it, so a recipient's hidden address is the stand-in there ([HiddenRecipient]).
//
// # Unsubscribe
//
// Marketing email carries a signed link to /unsubscribe/{token} ({{.unsubscribe_url}} in a
// template, else a footer) and the List-Unsubscribe and List-Unsubscribe-Post headers
// (RFC 8058 one-click). Unsubscribing adds the address to "email_suppressions"; marketing
// email to a suppressed address, or about a record with do_not_email set, is recorded as
// "suppressed" and not sent. So is marketing email to an address that any contact with it —
// letters in any case, another team's record too — opted out of: do_not_email set, or every
// marketing consent withdrawn ([OptedOut], read through the index of the contacts' addresses in
// lower case that every email field has, see schemas.AddressExpr). Transactional email ignores the
// list and these checks.
package outbox
