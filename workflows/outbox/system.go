package outbox

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	gomail "github.com/wneessen/go-mail"
)

// sendSystemMail delivers PocketBase's own mail — sign-in codes (OTP), verification,
// password reset, new-login alerts — over the same SMTP server as every other email
// (RELATA_SMTP_* or the dashboard's mail settings), at once and without an "emails" record:
// these messages carry one-time secrets that must not sit in a table admins can read.
// Without any SMTP host the message is handed on to PocketBase (its sendmail fallback).
func (s *Sender) sendSystemMail(e *core.MailerEvent) error {
	eff, err := s.cfg.resolve(e.App)
	if err != nil || eff.smtp.Host == "" {
		return e.Next()
	}
	m := e.Message
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	from := eff.from
	if m.From.Address != "" {
		from = m.From
	}
	if err := checkHeader("sender name", from.Name); err != nil {
		return err
	}
	msg.FromMailAddress(&from)
	if len(m.To) == 0 {
		return fmt.Errorf("%w: no recipient", ErrInvalid)
	}
	for _, to := range m.To {
		msg.AddToMailAddress(&to)
	}
	if err := checkHeader("subject", m.Subject); err != nil {
		return err
	}
	msg.Subject(m.Subject)
	msg.SetUserAgent("Relata")
	msg.SetDate()
	msg.SetMessageID()
	text := m.Text
	if text == "" && m.HTML != "" {
		text = HTMLToText(m.HTML)
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := dial(eff)
	if err != nil {
		return fmt.Errorf("send %q: %w", m.Subject, err)
	}
	defer c.close()
	if err := c.client.SendWithSMTPClient(c.smtp, msg); err != nil {
		return fmt.Errorf("send %q: %w", m.Subject, err)
	}
	return nil
}

func (s *Sender) bindSystemMail(app core.App) {
	app.OnMailerSend().Bind(&hook.Handler[*core.MailerEvent]{
		Id:   "relata.outbox.system-mail",
		Func: s.sendSystemMail,
	})
}
