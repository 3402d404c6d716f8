package inbox_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/outbox"
)

const domain = "crm.example.com"

func noEnv(string) string { return "" }

type env struct {
	app *core.BaseApp
	reg *schemas.Registry
	in  *inbox.Inbox
}

// newInbox opens an app with Relata's migrations and the default CRM model applied, and
// starts an inbound SMTP listener for crm.example.com on a loopback port.
func newInbox(t testing.TB, cfg inbox.Config) *env {
	t.Helper()
	if cfg.Auth == "" {
		// Tests of what a message does take its From as written; auth_test.go checks
		// the sender (and that "dkim" is the default).
		cfg.Auth = inbox.AuthOff
	}
	return newInboxDefaultAuth(t, cfg)
}

// newInboxDefaultAuth is newInbox without choosing the sender check: Config.Auth as given.
func newInboxDefaultAuth(t testing.TB, cfg inbox.Config) *env {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	cfg.Registry = reg
	cfg.Addr = "127.0.0.1:0"
	if cfg.Domain == "" {
		cfg.Domain = domain
	}
	cfg.Getenv = noEnv
	in, err := inbox.Register(app, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)
	return &env{app: app, reg: reg, in: in}
}

// send speaks SMTP to the listener with go-smtp's client: EHLO, MAIL FROM, each RCPT TO,
// DATA. It returns the first error the server answered.
func (e *env) send(t testing.TB, from string, rcpts []string, raw string) error {
	t.Helper()
	return sendTo(t, e.in.Addr(), nil, from, rcpts, raw)
}

func sendTo(t testing.TB, addr string, tlsConfig *tls.Config, from string, rcpts []string, raw string) error {
	t.Helper()
	var c *smtp.Client
	var err error
	if tlsConfig != nil {
		c, err = smtp.DialStartTLS(addr, tlsConfig)
	} else {
		c, err = smtp.Dial(addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.sender.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// code is the SMTP reply code of err, 0 when it is not an SMTP reply.
func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func (e *env) count(t testing.TB, collection string, where dbx.Expression) int {
	t.Helper()
	n, err := e.app.CountRecords(collection, where)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func (e *env) activities(t testing.TB, where dbx.Expression) []*core.Record {
	t.Helper()
	recs, err := e.app.FindAllRecords("activities", where)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// lastInbound is the newest inbound_emails record.
func (e *env) lastInbound(t testing.TB) *core.Record {
	t.Helper()
	recs, err := e.app.FindRecordsByFilter(inbox.Collection, "", "-created,-id", 1, 0)
	if err != nil || len(recs) == 0 {
		t.Fatalf("no inbound email stored (%v)", err)
	}
	return recs[0]
}

// selfSigned makes a TLS certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{domain},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// dsnID is a fresh Message-ID for a fixture's {{DSN_ID}}.
func dsnID(n int) string { return fmt.Sprintf("<dsn-%d-%d@mx.test>", n, time.Now().UnixNano()) }

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }

// verp is the VERP return address of the outbound email with id (outbox.VERPLocal).
func (e *env) verp(t *testing.T, id string) string {
	t.Helper()
	key, _, err := outbox.VERPKey(e.app)
	if err != nil {
		t.Fatal(err)
	}
	return outbox.VERPLocal(key, id) + "@" + domain
}
