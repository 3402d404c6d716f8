package main_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestServeInboundSMTP starts `relata serve --smtpInbound` and speaks SMTP to it: another
// domain is refused, the postmaster of its domain accepted; SIGTERM closes the listener.
func TestServeInboundSMTP(t *testing.T) {
	t.Parallel()
	addr := freePort(t)
	s := startServer(t, t.TempDir(), "--smtpInbound", addr, "--inboundDomain", "crm.example.com")
	send := func(rcpt string) error {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatalf("dial the inbound listener: %v\n%s", err, s.logs)
		}
		defer c.Close()
		if err := c.Mail("someone@sender.test", nil); err != nil {
			return err
		}
		if err := c.Rcpt(rcpt, nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		_, _ = io.WriteString(w, "From: someone@sender.test\r\nTo: "+rcpt+"\r\nSubject: hello\r\nMessage-ID: <t-1@sender.test>\r\n\r\nHi\r\n")
		return w.Close()
	}
	var se *smtp.SMTPError
	if err := send("victim@elsewhere.test"); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("relay attempt: %v; want 550", err)
	}
	if err := send("postmaster@crm.example.com"); err != nil {
		t.Errorf("mail to the postmaster: %v", err)
	}
	s.stop(t)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still listens after SIGTERM", addr)
	}
}

func TestServeInboundNeedsDomain(t *testing.T) {
	t.Parallel()
	out, code := runCode(t, "serve", "--http", freePort(t), "--dir", t.TempDir(), "--smtpInbound", freePort(t))
	if code == 0 || !strings.Contains(out, "--inboundDomain") {
		t.Errorf("exit %d, output %q; want a failure naming --inboundDomain", code, out)
	}
}

func TestServeInboundAuthMode(t *testing.T) {
	t.Parallel()
	out, code := runCode(t, "serve", "--http", freePort(t), "--dir", t.TempDir(), "--smtpInbound", freePort(t),
		"--inboundDomain", "crm.example.com", "--inboundAuth", "spf")
	if code == 0 || !strings.Contains(out, `"spf" is not dkim, results:<authserv-id> or off`) {
		t.Errorf("exit %d, output %q; want a failure naming the modes", code, out)
	}
}
