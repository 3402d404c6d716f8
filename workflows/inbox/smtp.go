package inbox

import (
	"errors"
	"io"
	"net/mail"
	"strings"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/pocketbase/core"
)

// VERPPrefix starts the local part of an outbound email's return address:
// bounce+<emailid>@DOMAIN.
const VERPPrefix = "bounce+"

// backend opens a session per connection.
type backend struct{ in *Inbox }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{in: b.in}, nil
}

// session is one SMTP conversation: MAIL FROM, the accepted RCPT TOs, DATA.
type session struct {
	in    *Inbox
	from  string
	rcpts []string
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
	raw, err := io.ReadAll(r) // bounded by the server's MaxMessageBytes
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
	if id, ok := strings.CutPrefix(local, VERPPrefix); ok {
		if _, err := app.FindRecordById("emails", id); err == nil {
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
