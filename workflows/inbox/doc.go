// Package inbox receives mail: an SMTP listener in the Relata binary that accepts messages for
// one domain only (never an open relay) and turns them into CRM data.
//
//   - BCC and forward logging: a message from a CRM user to the dropbox address (log@DOMAIN by
//     default) becomes a done email activity on the timelines of the contacts it was
//     exchanged with (by To/Cc, or for a forward the original sender and recipients), with
//     their company and open deals linked, when its From is authenticated (a DKIM signature
//     of the user's domain by default; see auth.go and [Config.Auth]). Messages to the
//     dropbox from anyone else, or from a user's address nobody vouches for, are
//     quarantined, never logged.
//   - Replies: a message whose In-Reply-To/References name an outbound email's Message-ID, or
//     that was sent to its VERP return address (bounce+<emailid>-<tag>@DOMAIN, which
//     [outbox.Config.InboundDomain] makes the envelope sender), marks that email replied_at,
//     lands on the record's timeline and gives the record's owner a task — one open task per
//     sent email, which further replies are counted on, and at most
//     [Config.MaxRepliesPerDay] replies per email a day (the rest are dropped).
//   - Bounces: delivery status notifications (RFC 3464) are read per recipient; a hard bounce
//     (5.x.x) suppresses the address with reason "bounce", soft bounces (4.x.x) are counted
//     and suppress after [Config.SoftBounceLimit].
//
// What an outsider can make the listener spend is bounded: connections (Config.MaxConnections,
// MaxConnectionsPerIP; beyond them 421), messages per client and minute
// (Config.MaxMessagesPerMinute; 451), the bytes of all messages being received at once
// (Config.MaxInflightBytes, a quarter of it per client; 452), and in each message the MIME
// structure read (parse.go: 1,000 header fields, 64 KiB per part header, 16 levels of
// nesting, 1,000 parts).
//
// Every accepted message is stored in the inbound_emails collection (managers read it), its
// HTML sanitised with [schemas.SanitizeHTML]. MIME is read with github.com/emersion/go-message.
package inbox
