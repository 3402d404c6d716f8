package inbox

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/outbox"
)

// VERPPrefix starts the local part of an outbound email's return address:
// bounce+<emailid>-<tag>@DOMAIN (outbox.VERPLocal).
const VERPPrefix = outbox.VERPPrefix

// backend opens a session per connection.
type backend struct{ in *Inbox }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{in: b.in, client: clientKey(c.Conn().RemoteAddr())}, nil
}

// session is one SMTP conversation: MAIL FROM, the accepted RCPT TOs, DATA.
type session struct {
	in     *Inbox
	client string // clientKey of the connection
	from   string
	rcpts  []string
}

func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from, s.rcpts = from, nil
	return nil
}

// errRelay refuses a recipient outside the domain: Relata is never an open relay.
var errRelay = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relaying denied: this server accepts mail only for its own domain"}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	rcpt, err := s.in.checkRecipient(s.in.app, to)
	if err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, rcpt)
	return nil
}

func (s *session) Data(r io.Reader) error {
	if len(s.rcpts) == 0 {
		_, _ = io.Copy(io.Discard, r)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "no valid recipients"}
	}
	if !s.in.rate.allow(s.client, s.in.cfg.Now(), s.in.cfg.MaxMessagesPerMinute) {
		s.in.app.Logger().Warn("relata: inbound mail deferred: too many messages from one client", "client", s.client, "perMinute", s.in.cfg.MaxMessagesPerMinute)
		return errRate
	}
	raw, release, err := s.in.readMessage(s.client, r)
	defer release()
	if err != nil {
		return err // go-smtp answers 552 for a message over the size limit
	}
	if _, err := s.in.Deliver(s.from, s.rcpts, raw); err != nil {
		if errors.Is(err, ErrNotMail) {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: clip(err.Error(), 200)}
		}
		if errors.Is(err, errAuthTemporary) {
			s.in.app.Logger().Warn("relata: inbound mail deferred: its DKIM signature could not be checked now", "from", s.from, "error", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 5}, Message: "the sender's DKIM key could not be looked up, try again later"}
		}
		s.in.app.Logger().Error("relata: inbound mail not stored", "from", s.from, "error", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "could not store the message, try again later"}
	}
	return nil
}

// errRate defers a message from a client that sent Config.MaxMessagesPerMinute this minute.
var errRate = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "too many messages from your address, try again later"}

// rateLimit counts the messages of each client in the current minute.
type rateLimit struct {
	mu     sync.Mutex
	minute time.Time
	n      map[string]int
}

// allow counts a message of client at now and reports whether it is within max a minute.
func (l *rateLimit) allow(client string, now time.Time, max int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := now.Truncate(time.Minute); !m.Equal(l.minute) || l.n == nil {
		l.minute, l.n = m, map[string]int{}
	}
	if l.n[client] >= max {
		return false
	}
	l.n[client]++
	return true
}

// clientKey is what the per-client bounds count by: the IP address of addr, for IPv6 its
// /64 network (one host usually holds a whole /64).
func clientKey(addr net.Addr) string {
	s := addr.String()
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return s
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// errBusy defers a message while the messages being received hold Config.MaxInflightBytes.
var errBusy = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "too much mail being received now, try again later"}

// readMessage reads a message of client (bounded by the server's MaxMessageBytes) into
// memory, taking what it reads from the budget Config.MaxInflightBytes of all messages being
// received at once, of which one client may hold a quarter (or one message), and returns a
// function that gives it back. Over the budget, it answers errBusy (the sender retries
// later): each connection may send MaxMessageBytes, and there may be MaxConnections of them;
// and a message may be held a while (its DKIM keys looked up, its transaction waiting).
func (in *Inbox) readMessage(client string, r io.Reader) (raw []byte, release func(), err error) {
	var taken int64
	release = func() { in.budget.give(client, taken); taken = 0 }
	perClient := max(in.cfg.MaxInflightBytes/4, in.cfg.MaxMessageBytes)
	buf := bytes.NewBuffer(make([]byte, 0, 64<<10))
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			if !in.budget.take(client, int64(n), in.cfg.MaxInflightBytes, perClient) {
				in.app.Logger().Warn("relata: inbound mail deferred: the messages being received hold the memory budget",
					"client", client, "budget", in.cfg.MaxInflightBytes)
				return nil, release, errBusy
			}
			taken += int64(n)
			buf.Write(chunk[:n])
		}
		if err == io.EOF {
			return buf.Bytes(), release, nil
		}
		if err != nil {
			return nil, release, err
		}
	}
}

// budget counts the bytes of the messages being received, in all and per client.
type budget struct {
	mu       sync.Mutex
	total    int64
	byClient map[string]int64
}

// take reserves n bytes for client when that keeps the total within max and the client's
// within perClient.
func (b *budget) take(client string, n, max, perClient int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total+n > max || b.byClient[client]+n > perClient {
		return false
	}
	if b.byClient == nil {
		b.byClient = map[string]int64{}
	}
	b.total += n
	b.byClient[client] += n
	return true
}

// give returns n bytes of client's.
func (b *budget) give(client string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total -= n
	if b.byClient[client] -= n; b.byClient[client] <= 0 {
		delete(b.byClient, client)
	}
}

// checkRecipient accepts an address of the configured domain that names the dropbox, a
// configured mailbox or the VERP address of an existing outbound email, and returns it in
// lower case; anything else is refused with 550.
func (in *Inbox) checkRecipient(app core.App, to string) (string, error) {
	a, err := mail.ParseAddress(to)
	if err != nil {
		a = &mail.Address{Address: strings.Trim(to, "<> ")}
	}
	addr := strings.ToLower(a.Address)
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain != in.cfg.Domain {
		return "", errRelay
	}
	if local == in.cfg.Dropbox {
		return addr, nil
	}
	for _, mb := range in.cfg.Mailboxes {
		if local == strings.ToLower(mb) {
			return addr, nil
		}
	}
	if strings.HasPrefix(local, VERPPrefix) {
		if id, err := in.verpEmail(app, local); err != nil {
			return "", err
		} else if id != "" {
			return addr, nil
		}
	}
	return "", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox here"}
}

// clip cuts s to n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// verpEmail returns the id of the outbound email a VERP local part names, "" when it names
// none: its tag must hold (outbox.VERPLocal), or, untagged, the email must have been queued
// before tags were (outbox.VERPKey) — a return address is otherwise guessed from the time an
// email was sent and six random characters, and a bounce to it suppresses its recipients.
func (in *Inbox) verpEmail(app core.App, local string) (string, error) {
	key, since, err := in.verp.Get(app)
	if err != nil {
		return "", err
	}
	id, tagged, ok := outbox.ParseVERP(key, local)
	if !ok {
		return "", nil
	}
	rec, err := app.FindRecordById(outbox.Collection, id)
	if err != nil {
		return "", nil
	}
	if !tagged && !rec.GetDateTime("created").Time().Before(since) {
		return "", nil
	}
	return id, nil
}
