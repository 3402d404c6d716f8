// Package campaigns sends an email template to a segment of contacts, once per address,
// and reports what came of it.
//
// A campaign names a template (outbox email_templates), a segment (schemas/segments), a
// schedule (now, or send_at) and a throttle (messages per minute). When it starts, its
// recipients are resolved: the segment is evaluated as the campaign's owner (never as a
// superuser), and each member becomes a row of campaign_recipients keyed by (campaign,
// lower-cased address) under a unique index — a second contact with the same address is a
// duplicate, not a second message. A member without an address, with do_not_email set, on the
// suppression list, or without the consent the campaign requires (purpose and legal bases) is
// recorded as skipped with that reason. The worker then queues pending recipients in the
// outbox, batch by batch within the throttle, each in the same transaction as the change of
// its row to "queued" and with the idempotency key campaign:<id>:<address>: a crash rolls
// both back or keeps both, so every address gets exactly one email across restarts.
//
// Pause stops queueing (emails already queued still go out); resume continues; cancel skips
// every pending recipient and withdraws the queued emails not yet sent.
//
// # Tracking
//
// With track_clicks, links of the HTML part whose URL is written in the template itself
// become signed redirects (/t/c/{token}: an HMAC over the recipient and the URL); the
// redirect leads only to a URL that is signed and still present in the template, so it is
// never an open redirect. With track_opens (off by default: image proxies and blockers make
// opens unreliable, and a pixel is personal data to disclose), a 1×1 image (/t/o/{token}.gif)
// records opens. Unsubscribes, bounces and replies are read from the outbox and inbox records
// of each recipient's email. [Service.Report] counts them all, with the deals recipients
// created and won within report_days of the start.
//
//	svc := campaigns.MustRegister(app, campaigns.Config{Registry: reg})
package campaigns
