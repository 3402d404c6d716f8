package outbox

import (
	"crypto/x509"
	"fmt"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// TLS modes of [SMTP.TLS].
const (
	// TLSNone speaks plain text (only for relays on a trusted network).
	TLSNone = "none"
	// TLSOpportunistic upgrades with STARTTLS when the server offers it. It is what an
	// unticked "Use TLS" box in PocketBase's mail settings means.
	TLSOpportunistic = "opportunistic"
	// TLSStartTLS requires STARTTLS (submission, port 587).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	TLSImplicit = "tls"
)

// AUTH mechanisms of [SMTP.Auth].
const (
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthCRAMMD5 = "cram-md5"
)

// SMTP says how to reach the mail server. Each zero field falls back to its environment
// variable, then to PocketBase's mail settings (Dashboard → Settings → Mail settings), read
// anew for every batch so dashboard edits apply without a restart.
type SMTP struct {
	// Host of the SMTP server (env RELATA_SMTP_HOST). Without a host from anywhere, emails
	// stay queued until one is configured.
	Host string
	// Port (env RELATA_SMTP_PORT). Default: 465 for TLSImplicit, 25 for TLSNone, else 587.
	Port int
	// Username and Password for AUTH (env RELATA_SMTP_USERNAME, RELATA_SMTP_PASSWORD); no
	// AUTH without a username. PLAIN and LOGIN are refused over an unencrypted connection
	// except to localhost.
	Username, Password string
	// TLS is TLSNone, TLSOpportunistic, TLSStartTLS or TLSImplicit (env RELATA_SMTP_TLS:
	// none|opportunistic|starttls|tls). Default: from the mail settings' TLS box — ticked is
	// TLSImplicit, unticked TLSOpportunistic.
	TLS string
	// Auth is AuthPlain, AuthLogin or AuthCRAMMD5 (env RELATA_SMTP_AUTH:
	// plain|login|cram-md5). Default: the mail settings' method, else AuthPlain.
	Auth string
	// LocalName is the name sent with EHLO (env RELATA_SMTP_LOCAL_NAME). Default: the
	// settings' local name, else the machine's host name.
	LocalName string
	// RootCAs, when set, are the only certificate authorities trusted for the server's
	// certificate (env RELATA_SMTP_CA_FILE: a PEM file). Default: the system's.
	RootCAs *x509.CertPool
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool
	// Timeout bounds connecting and each SMTP command. Default: 30s.
	Timeout time.Duration
}

// Config configures email delivery. Zero fields fall back to environment variables, then to
// PocketBase's settings (see [SMTP]).
type Config struct {
	// Registry is the object model, used to log sent email on the timeline of the record it
	// is about (an activity of the object marked "activity": true). Default: nil (no
	// timeline entries).
	Registry *schemas.Registry
	// SMTP is the mail server.
	SMTP SMTP
	// From and FromName are the default sender (env RELATA_MAIL_FROM, RELATA_MAIL_FROM_NAME).
	// Default: the settings' sender address and name.
	From, FromName string
	// ReplyTo is the default Reply-To address (env RELATA_MAIL_REPLY_TO). Default: none.
	ReplyTo string
	// PublicURL is where recipients reach Relata, for unsubscribe links (env
	// RELATA_PUBLIC_URL). Default: the settings' application URL. RFC 8058 one-click
	// unsubscribe requires https.
	PublicURL string
	// UnsubscribeMailto, when set, is added to List-Unsubscribe as a mailto: fallback (env
	// RELATA_UNSUBSCRIBE_MAILTO), e.g. "unsubscribe@example.com".
	UnsubscribeMailto string
	// InboundDomain, when set, is the domain of Relata's inbound SMTP listener
	// (workflows/inbox; env RELATA_INBOUND_DOMAIN): each email is sent with the envelope
	// sender (Return-Path) bounce+<emailid>-<tag>@InboundDomain (verp.go), so bounces and auto-replies come
	// back to Relata naming the email. Default: none (the From address is the envelope sender).
	InboundDomain string
	// UnsubscribeSecret signs unsubscribe links (env RELATA_UNSUBSCRIBE_SECRET). Default: a
	// random secret generated once and stored in the relata_secrets collection.
	UnsubscribeSecret string
	// BatchSize is how many emails one SMTP connection sends. Default: 20.
	BatchSize int
	// Workers is how many batches are sent at once. Default: 1.
	Workers int
	// MaxAttempts is how often an email is tried before it fails. Default: 5.
	MaxAttempts int
	// RetryBase is the delay before the first retry; each further attempt doubles it (±25%
	// jitter, at most a day). Default: 1m.
	RetryBase time.Duration
	// Lease is how long a sender owns an email it is sending; an email still "sending"
	// after its lease (its sender crashed) is sent again, with the same Message-ID.
	// Default: 15m.
	Lease time.Duration
	// PollInterval is how often an idle sender looks for due emails (retries); new emails
	// wake it at once. Default: 5s.
	PollInterval time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Getenv reads environment variables. Default: os.Getenv. Tests pass a function that
	// returns "" to ignore the environment.
	Getenv func(string) string
}

// withDefaults fills zero fields with environment variables and defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	env := func(dst *string, key string) {
		if *dst == "" {
			*dst = strings.TrimSpace(c.Getenv(key))
		}
	}
	env(&c.SMTP.Host, "RELATA_SMTP_HOST")
	env(&c.SMTP.Username, "RELATA_SMTP_USERNAME")
	if c.SMTP.Password == "" {
		c.SMTP.Password = c.Getenv("RELATA_SMTP_PASSWORD")
	}
	env(&c.SMTP.TLS, "RELATA_SMTP_TLS")
	env(&c.SMTP.Auth, "RELATA_SMTP_AUTH")
	env(&c.SMTP.LocalName, "RELATA_SMTP_LOCAL_NAME")
	env(&c.From, "RELATA_MAIL_FROM")
	env(&c.FromName, "RELATA_MAIL_FROM_NAME")
	env(&c.ReplyTo, "RELATA_MAIL_REPLY_TO")
	env(&c.PublicURL, "RELATA_PUBLIC_URL")
	env(&c.UnsubscribeMailto, "RELATA_UNSUBSCRIBE_MAILTO")
	env(&c.UnsubscribeSecret, "RELATA_UNSUBSCRIBE_SECRET")
	env(&c.InboundDomain, "RELATA_INBOUND_DOMAIN")
	c.InboundDomain = strings.ToLower(strings.TrimSuffix(c.InboundDomain, "."))
	if strings.ContainsAny(c.InboundDomain, "@ <>\r\n") {
		return c, fmt.Errorf("outbox: InboundDomain %q is not a domain name", c.InboundDomain)
	}
	if p := c.Getenv("RELATA_SMTP_PORT"); c.SMTP.Port == 0 && p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return c, fmt.Errorf("outbox: RELATA_SMTP_PORT %q is not a port number", p)
		}
		c.SMTP.Port = n
	}
	if f := c.Getenv("RELATA_SMTP_CA_FILE"); c.SMTP.RootCAs == nil && f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return c, fmt.Errorf("outbox: RELATA_SMTP_CA_FILE: %w", err)
		}
		c.SMTP.RootCAs = x509.NewCertPool()
		if !c.SMTP.RootCAs.AppendCertsFromPEM(pem) {
			return c, fmt.Errorf("outbox: RELATA_SMTP_CA_FILE %s holds no PEM certificate", f)
		}
	}
	c.SMTP.TLS = strings.ToLower(c.SMTP.TLS)
	switch c.SMTP.TLS {
	case "", TLSNone, TLSOpportunistic, TLSStartTLS, TLSImplicit:
	default:
		return c, fmt.Errorf("outbox: unknown TLS mode %q (want none, opportunistic, starttls or tls)", c.SMTP.TLS)
	}
	c.SMTP.Auth = strings.ToLower(c.SMTP.Auth)
	switch c.SMTP.Auth {
	case "", AuthPlain, AuthLogin, AuthCRAMMD5:
	default:
		return c, fmt.Errorf("outbox: unknown AUTH mechanism %q (want plain, login or cram-md5)", c.SMTP.Auth)
	}
	for _, a := range []struct{ name, v string }{{"From", c.From}, {"ReplyTo", c.ReplyTo}, {"UnsubscribeMailto", c.UnsubscribeMailto}} {
		if a.v == "" {
			continue
		}
		if _, err := parseAddress(a.v); err != nil {
			return c, fmt.Errorf("outbox: %s: %w", a.name, err)
		}
	}
	if strings.ContainsAny(c.FromName, "\r\n") {
		return c, fmt.Errorf("outbox: FromName contains a line break")
	}
	if c.SMTP.Timeout <= 0 {
		c.SMTP.Timeout = 30 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 20
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Minute
	}
	if c.Lease <= 0 {
		c.Lease = 15 * time.Minute
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// effective is the delivery configuration of one batch: Config over PocketBase's settings.
type effective struct {
	smtp      SMTP
	from      mail.Address
	replyTo   string
	publicURL string
}

// resolve merges the configuration with PocketBase's current settings.
func (c *Config) resolve(app core.App) (effective, error) {
	st := app.Settings()
	e := effective{smtp: c.SMTP, replyTo: c.ReplyTo, publicURL: c.PublicURL}
	if st.SMTP.Enabled {
		pb := st.SMTP
		if e.smtp.Host == "" {
			e.smtp.Host = pb.Host
		}
		if e.smtp.Port == 0 {
			e.smtp.Port = pb.Port
		}
		if e.smtp.Username == "" {
			e.smtp.Username, e.smtp.Password = pb.Username, pb.Password
		}
		if e.smtp.Auth == "" {
			e.smtp.Auth = strings.ToLower(pb.AuthMethod)
		}
		if e.smtp.TLS == "" {
			e.smtp.TLS = TLSOpportunistic
			if pb.TLS {
				e.smtp.TLS = TLSImplicit
			}
		}
		if e.smtp.LocalName == "" {
			e.smtp.LocalName = pb.LocalName
		}
	}
	if e.smtp.TLS == "" {
		e.smtp.TLS = TLSOpportunistic
	}
	if e.smtp.Auth == "" {
		e.smtp.Auth = AuthPlain
	}
	if e.smtp.Port == 0 {
		switch e.smtp.TLS {
		case TLSImplicit:
			e.smtp.Port = 465
		case TLSNone:
			e.smtp.Port = 25
		default:
			e.smtp.Port = 587
		}
	}
	e.from = mail.Address{Name: c.FromName, Address: c.From}
	if e.from.Address == "" {
		e.from.Address = st.Meta.SenderAddress
		if e.from.Name == "" {
			e.from.Name = st.Meta.SenderName
		}
	}
	if e.publicURL == "" {
		e.publicURL = st.Meta.AppURL
	}
	e.publicURL = strings.TrimRight(e.publicURL, "/")
	if e.from.Address == "" {
		return e, fmt.Errorf("no sender address: set RELATA_MAIL_FROM or the sender address in the mail settings")
	}
	return e, nil
}

// defaultSender is the sender templates see when the caller names none: the environment's,
// else the settings'.
func defaultSender(app core.App) mail.Address {
	a := mail.Address{Name: os.Getenv("RELATA_MAIL_FROM_NAME"), Address: os.Getenv("RELATA_MAIL_FROM")}
	if a.Address == "" {
		a.Address = app.Settings().Meta.SenderAddress
		if a.Name == "" {
			a.Name = app.Settings().Meta.SenderName
		}
	}
	return a
}
