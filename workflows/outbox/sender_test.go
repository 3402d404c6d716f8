package outbox_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

func TestDeliveryOverTLSModesAndAuth(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name     string
		opts     outboxtest.Options
		tls      string
		auth     string
		wantTLS  bool
		wantAuth string
	}{
		{"starttls plain", outboxtest.Options{Username: "relata", Password: "s3cret"}, outbox.TLSStartTLS, outbox.AuthPlain, true, "PLAIN"},
		{"starttls login", outboxtest.Options{Username: "relata", Password: "s3cret"}, outbox.TLSStartTLS, outbox.AuthLogin, true, "LOGIN"},
		{"starttls cram-md5", outboxtest.Options{Username: "relata", Password: "s3cret"}, outbox.TLSStartTLS, outbox.AuthCRAMMD5, true, "CRAM-MD5"},
		{"implicit tls plain", outboxtest.Options{Username: "relata", Password: "s3cret", ImplicitTLS: true}, outbox.TLSImplicit, outbox.AuthPlain, true, "PLAIN"},
		{"no tls cram-md5", outboxtest.Options{Username: "relata", Password: "s3cret", NoTLS: true}, outbox.TLSNone, outbox.AuthCRAMMD5, false, "CRAM-MD5"},
		{"opportunistic without auth", outboxtest.Options{}, outbox.TLSOpportunistic, "", true, ""},
		{"opportunistic, server without tls", outboxtest.Options{NoTLS: true}, outbox.TLSOpportunistic, "", false, ""},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			cfg := outbox.Config{ReplyTo: "sales@relata.test"}
			cfg.SMTP.TLS, cfg.SMTP.Auth = sc.tls, sc.auth
			cfg.SMTP.Username, cfg.SMTP.Password = sc.opts.Username, sc.opts.Password
			e := newSender(t, sc.opts, cfg)
			rec := e.enqueue(t, outbox.Message{
				To:      []string{"Ada Lovelace <ada@example.com>"},
				Subject: "Grüße, Ada",
				HTML:    `<p>Hello <b>Ada</b>, see <a href="https://relata.test/x">your account</a>.</p>`,
			})
			if n := e.drain(t); n != 1 {
				t.Fatalf("drained %d; want 1", n)
			}
			msgs := e.smtp.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages; want 1 (email: %v)", len(msgs), e.email(t, rec.Id).FieldsData())
			}
			m := msgs[0]
			if m.TLS != sc.wantTLS || m.Auth != sc.wantAuth {
				t.Errorf("TLS=%v auth=%q; want TLS=%v auth=%q", m.TLS, m.Auth, sc.wantTLS, sc.wantAuth)
			}
			got := e.email(t, rec.Id)
			checks := []struct{ what, got, want string }{
				{"envelope from", m.From, "crm@relata.test"},
				{"envelope to", strings.Join(m.To, ","), "ada@example.com"},
				{"From", m.Header.Get("From"), `"Relata CRM" <crm@relata.test>`},
				{"To", m.Header.Get("To"), `"Ada Lovelace" <ada@example.com>`},
				{"Reply-To", m.Header.Get("Reply-To"), "<sales@relata.test>"},
				{"Subject", decodeHeader(t, m.Header.Get("Subject")), "Grüße, Ada"},
				{"Message-ID", m.Header.Get("Message-ID"), got.GetString("message_id")},
				{"List-Unsubscribe (transactional)", m.Header.Get("List-Unsubscribe"), ""},
				{"status", got.GetString("status"), outbox.StatusSent},
				{"text/plain", m.Part("text/plain"), "Hello Ada, see your account (https://relata.test/x).\n"},
				{"text/html", m.Part("text/html"), `<p>Hello <b>Ada</b>, see <a href="https://relata.test/x">your account</a>.</p>`},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q; want %q", c.what, c.got, c.want)
				}
			}
			if !strings.HasSuffix(got.GetString("message_id"), "@relata.test>") || got.GetInt("attempts") != 1 ||
				got.GetDateTime("sent_at").IsZero() {
				t.Errorf("email = %v", got.FieldsData())
			}
		})
	}
}

func TestWrongPasswordRetries(t *testing.T) {
	t.Parallel()
	cfg := outbox.Config{}
	cfg.SMTP.Username, cfg.SMTP.Password, cfg.SMTP.Auth = "relata", "wrong", outbox.AuthPlain
	e := newSender(t, outboxtest.Options{Username: "relata", Password: "s3cret"}, cfg)
	rec := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
	e.drain(t)
	got := e.email(t, rec.Id)
	if got.GetString("status") != outbox.StatusQueued || !strings.Contains(got.GetString("last_error"), "AUTH") {
		t.Errorf("email = %s %q; want queued with the AUTH failure", got.GetString("status"), got.GetString("last_error"))
	}
	if len(e.smtp.Messages()) != 0 {
		t.Error("the server accepted a message without authentication")
	}
}

func TestTemporaryFailureRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{Reply: func(n int) error {
		if n <= 2 {
			return outboxtest.Reply(451, "greylisted, try again later")
		}
		return nil
	}}, outbox.Config{})
	rec := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})

	for attempt := 1; attempt <= 2; attempt++ {
		e.drain(t)
		got := e.email(t, rec.Id)
		if got.GetString("status") != outbox.StatusQueued || got.GetInt("attempts") != attempt ||
			!strings.Contains(got.GetString("last_error"), "451") {
			t.Fatalf("after attempt %d: %s attempts=%d %q", attempt, got.GetString("status"), got.GetInt("attempts"), got.GetString("last_error"))
		}
		// Backoff: RetryBase (1m) doubled per attempt, ±25%; not due before 45s·2^(n-1).
		wait := got.GetDateTime("next_at").Time().Sub(e.clock.Now())
		if min := 45 * time.Second << (attempt - 1); wait < min-time.Second || wait > 2*min {
			t.Errorf("retry %d in %v; want about %v", attempt, wait, min*4/3)
		}
		if n := e.drain(t); n != 0 {
			t.Fatalf("an email was retried before its backoff ended")
		}
		e.clock.Add(time.Hour)
	}
	e.drain(t)
	got := e.email(t, rec.Id)
	if got.GetString("status") != outbox.StatusSent || got.GetInt("attempts") != 3 || got.GetString("last_error") != "" {
		t.Errorf("email = %s attempts=%d %q; want sent after 3 attempts", got.GetString("status"), got.GetInt("attempts"), got.GetString("last_error"))
	}
	if n := len(e.smtp.Messages()); n != 1 || e.smtp.Attempts() != 3 {
		t.Errorf("server accepted %d of %d; want 1 of 3", n, e.smtp.Attempts())
	}
}

func TestPermanentFailureKeepsTheReply(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{Reply: func(int) error {
		return outboxtest.Reply(550, "mailbox unavailable: no such user here")
	}}, outbox.Config{})
	rec := e.enqueue(t, outbox.Message{To: []string{"nobody@example.com"}, Subject: "Hi", Text: "Hello"})
	e.drain(t)
	e.clock.Add(48 * time.Hour)
	e.drain(t)
	got := e.email(t, rec.Id)
	if got.GetString("status") != outbox.StatusFailed || got.GetInt("attempts") != 1 {
		t.Errorf("email = %s attempts=%d; want failed after 1 attempt", got.GetString("status"), got.GetInt("attempts"))
	}
	if le := got.GetString("last_error"); !strings.Contains(le, "550") || !strings.Contains(le, "mailbox unavailable: no such user here") {
		t.Errorf("last_error = %q; want the server's reply", le)
	}
}

func TestNetworkErrorsRetryUntilMaxAttempts(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	cfg := outbox.Config{MaxAttempts: 2}
	cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.Timeout = "127.0.0.1", port, time.Second
	e := newSender(t, outboxtest.Options{}, cfg)
	rec := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
	e.drain(t)
	if got := e.email(t, rec.Id); got.GetString("status") != outbox.StatusQueued || !strings.Contains(got.GetString("last_error"), "connect") {
		t.Fatalf("after 1 attempt: %s %q", got.GetString("status"), got.GetString("last_error"))
	}
	e.clock.Add(time.Hour)
	e.drain(t)
	got := e.email(t, rec.Id)
	if got.GetString("status") != outbox.StatusFailed || !strings.Contains(got.GetString("last_error"), "gave up after 2 attempts") {
		t.Errorf("email = %s %q; want failed after 2 attempts", got.GetString("status"), got.GetString("last_error"))
	}
}

func TestCrashedSendIsRetriedWithTheSameMessageID(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{}, outbox.Config{Lease: 10 * time.Minute})
	rec := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello", IdempotencyKey: "run1:0"})
	e.drain(t)
	first := e.email(t, rec.Id).GetString("message_id")

	// A sender claimed it again, delivered it and crashed before recording the outcome: the
	// email is "sending" with a lease. Until the lease ends, nobody touches it.
	if _, err := e.app.DB().Update(outbox.Collection, dbx.Params{
		"status": outbox.StatusSending, "lease_until": e.clock.Now().Add(10 * time.Minute).UTC().Format("2006-01-02 15:04:05.000Z"),
	}, dbx.HashExp{"id": rec.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if n := e.drain(t); n != 0 {
		t.Fatalf("an email under lease was claimed")
	}
	e.clock.Add(11 * time.Minute)
	if n := e.drain(t); n != 1 {
		t.Fatalf("drained %d after the lease ended; want 1", n)
	}
	got := e.email(t, rec.Id)
	msgs := e.smtp.Messages()
	if got.GetString("status") != outbox.StatusSent || got.GetInt("attempts") != 2 || len(msgs) != 2 {
		t.Fatalf("email = %s attempts=%d, server got %d", got.GetString("status"), got.GetInt("attempts"), len(msgs))
	}
	if a, b := msgs[0].Header.Get("Message-ID"), msgs[1].Header.Get("Message-ID"); a != b || a != first {
		t.Errorf("Message-IDs %q, %q; want both %q (a receiver drops the duplicate)", a, b, first)
	}
}

func TestHeaderInjectionIsRefused(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{}, outbox.Config{})
	bad := []outbox.Message{
		{To: []string{"ada@example.com"}, Subject: "Hi\r\nBcc: victim@example.com", Text: "x"},
		{To: []string{"ada@example.com\r\nBcc: victim@example.com"}, Subject: "Hi", Text: "x"},
		{To: []string{"ada@example.com"}, ReplyTo: "a@example.com\nBcc: victim@example.com", Subject: "Hi", Text: "x"},
		{To: []string{"not an address"}, Subject: "Hi", Text: "x"},
		{To: []string{"a@example.com", "b@example.com"}, Subject: "Hi", Text: "x", Category: outbox.Marketing},
	}
	for _, m := range bad {
		if _, err := outbox.Enqueue(e.app, m); !errors.Is(err, outbox.ErrInvalid) {
			t.Errorf("Enqueue(%q, %q) = %v; want ErrInvalid", m.To, m.Subject, err)
		}
	}
	// Written to the collection behind Enqueue's back: the sender checks again.
	coll, err := e.app.FindCollectionByNameOrId(outbox.Collection)
	if err != nil {
		t.Fatal(err)
	}
	rec := core.NewRecord(coll)
	rec.Load(map[string]any{"to": []string{"ada@example.com"}, "subject": "Hi\r\nBcc: victim@example.com", "text": "x",
		"status": outbox.StatusQueued, "category": outbox.Transactional, "next_at": time.Now().UTC()})
	if err := e.app.Save(rec); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	got := e.email(t, rec.Id)
	if got.GetString("status") != outbox.StatusFailed || !strings.Contains(got.GetString("last_error"), "line break") {
		t.Errorf("email = %s %q; want failed for the line break", got.GetString("status"), got.GetString("last_error"))
	}
	if n := e.smtp.Attempts(); n != 0 {
		t.Errorf("server saw %d messages; want none", n)
	}
}

func TestBatchReusesOneConnection(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{Username: "u", Password: "p"}, outbox.Config{BatchSize: 10,
		SMTP: outbox.SMTP{Username: "u", Password: "p"}})
	for i := 0; i < 25; i++ {
		e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
	}
	if n := e.drain(t); n != 25 {
		t.Fatalf("drained %d; want 25", n)
	}
	if got, conns := len(e.smtp.Messages()), e.smtp.Connections(); got != 25 || conns != 3 {
		t.Errorf("server got %d messages over %d connections; want 25 over 3 (batches of 10)", got, conns)
	}
}

func TestSettingsFromTheDashboard(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	s, err := outbox.Register(app, outbox.Config{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := outbox.Enqueue(app, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	// No SMTP server anywhere: the email waits.
	if n, err := s.Drain(); n != 0 || err != nil {
		t.Fatalf("Drain = %d, %v; want 0 without an SMTP server", n, err)
	}
	// An admin fills in the mail settings (TLS box unticked: STARTTLS when offered).
	srv := outboxtest.NewServer(t, outboxtest.Options{Username: "pb", Password: "pw", Mechanisms: []string{"LOGIN"}, NoTLS: true})
	st := app.Settings()
	st.SMTP = core.SMTPConfig{Enabled: true, Host: srv.Host, Port: srv.Port, Username: "pb", Password: "pw", AuthMethod: "LOGIN"}
	st.Meta.SenderName, st.Meta.SenderAddress = "Acme Sales", "sales@acme.test"
	if n, err := s.Drain(); n != 1 || err != nil {
		t.Fatalf("Drain = %d, %v; want 1", n, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Header.Get("From") != `"Acme Sales" <sales@acme.test>` || msgs[0].Auth != "LOGIN" {
		got, _ := app.FindRecordById(outbox.Collection, rec.Id)
		t.Fatalf("server got %d messages (email %v)", len(msgs), got.FieldsData())
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	srv := outboxtest.NewServer(t, outboxtest.Options{Username: "env", Password: "pw", ImplicitTLS: true})
	env := map[string]string{
		"RELATA_SMTP_HOST": srv.Host, "RELATA_SMTP_PORT": strconv.Itoa(srv.Port), "RELATA_SMTP_TLS": "tls",
		"RELATA_SMTP_USERNAME": "env", "RELATA_SMTP_PASSWORD": "pw", "RELATA_SMTP_AUTH": "cram-md5",
		"RELATA_MAIL_FROM": "env@relata.test", "RELATA_MAIL_FROM_NAME": "From Env", "RELATA_MAIL_REPLY_TO": "reply@relata.test",
	}
	cfg := outbox.Config{Getenv: func(k string) string { return env[k] }}
	cfg.SMTP.RootCAs = srv.CertPool
	s, err := outbox.Register(app, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Enqueue(app, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Drain(); n != 1 || err != nil {
		t.Fatalf("Drain = %d, %v", n, err)
	}
	m := srv.Messages()
	if len(m) != 1 || !m[0].TLS || m[0].Auth != "CRAM-MD5" || m[0].Header.Get("From") != `"From Env" <env@relata.test>` ||
		m[0].Header.Get("Reply-To") != "<reply@relata.test>" {
		t.Fatalf("received %d: %+v", len(m), m)
	}

	for _, bad := range []map[string]string{{"RELATA_SMTP_TLS": "ssl"}, {"RELATA_SMTP_AUTH": "ntlm"}, {"RELATA_SMTP_PORT": "x"}, {"RELATA_MAIL_FROM": "a\r\nb"}} {
		if _, err := outbox.Register(app, outbox.Config{Getenv: func(k string) string { return bad[k] }}); err == nil {
			t.Errorf("Register accepted %v", bad)
		}
	}
}

// decodeHeader decodes an RFC 2047 encoded header value.
func decodeHeader(t testing.TB, v string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServerCertificateIsVerified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      outbox.SMTP
		wantSent bool
	}{
		{"untrusted self-signed certificate", outbox.SMTP{RootCAs: x509.NewCertPool()}, false},
		{"verification skipped (tests only)", outbox.SMTP{RootCAs: x509.NewCertPool(), InsecureSkipVerify: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newSender(t, outboxtest.Options{}, outbox.Config{SMTP: tt.cfg})
			rec := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
			e.drain(t)
			got := e.email(t, rec.Id)
			if sent := got.GetString("status") == outbox.StatusSent; sent != tt.wantSent {
				t.Errorf("status %s (%q); want sent=%v", got.GetString("status"), got.GetString("last_error"), tt.wantSent)
			}
			if !tt.wantSent && !strings.Contains(got.GetString("last_error"), "certificate") {
				t.Errorf("last_error = %q; want the certificate problem", got.GetString("last_error"))
			}
		})
	}
}

// A server that drops a connection after some messages (as one does with an idle
// connection) costs no message a retry: the sender no longer probes with NOOP before each
// message, it sees the drop at MAIL FROM — before anything was delivered — and reconnects once.
func TestDroppedConnectionReconnectsWithoutRetry(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{DropAfter: 3}, outbox.Config{BatchSize: 10})
	var ids []string
	for i := 0; i < 10; i++ {
		ids = append(ids, e.enqueue(t, outbox.Message{To: []string{fmt.Sprintf("p%d@example.com", i)}, Subject: "Hi", Text: "Hello"}).Id)
	}
	if n := e.drain(t); n != 10 {
		t.Fatalf("drained %d; want 10", n)
	}
	got := map[string]int{}
	for _, m := range e.smtp.Messages() {
		got[m.To[0]]++
	}
	for i := 0; i < 10; i++ {
		if a := fmt.Sprintf("p%d@example.com", i); got[a] != 1 {
			t.Errorf("%s received %d messages; want 1", a, got[a])
		}
	}
	if conns := e.smtp.Connections(); conns != 4 {
		t.Errorf("%d connections; want 4 (3 messages each, then dropped)", conns)
	}
	for _, id := range ids {
		if rec := e.email(t, id); rec.GetString("status") != outbox.StatusSent || rec.GetInt("attempts") != 1 {
			t.Errorf("email %s: status %q after %d attempts (%s); want sent after 1", id, rec.GetString("status"), rec.GetInt("attempts"), rec.GetString("last_error"))
		}
	}
}
