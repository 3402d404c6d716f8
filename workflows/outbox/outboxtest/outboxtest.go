// Package outboxtest runs a real SMTP server in the test process (github.com/emersion/go-smtp
// on 127.0.0.1), so tests of Relata's email delivery can assert on what a server received:
// envelope, headers, both MIME parts, whether TLS was on and which AUTH mechanism was used.
//
//	srv := outboxtest.NewServer(t, outboxtest.Options{Username: "relata", Password: "secret"})
//	// … configure the sender with srv.Host, srv.Port and srv.CertPool, send …
//	msg := srv.Messages()[0]
//	msg.Header.Get("Subject"); msg.Part("text/plain"); msg.Part("text/html")
//
// The server offers STARTTLS with a self-signed certificate made in the test (or speaks TLS
// from the first byte with [Options.ImplicitTLS]) and AUTH PLAIN (go-sasl), LOGIN and
// CRAM-MD5. go-sasl has no server side for LOGIN or CRAM-MD5, so both are implemented here as
// minimal [sasl.Server]s.
package outboxtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a test server.
type Options struct {
	// Username and Password, when set, make AUTH mandatory before MAIL FROM.
	Username, Password string
	// Mechanisms are the AUTH mechanisms offered. Default: PLAIN, LOGIN, CRAM-MD5.
	Mechanisms []string
	// ImplicitTLS makes the listener speak TLS from the first byte (SMTPS, port 465 style)
	// instead of offering STARTTLS.
	ImplicitTLS bool
	// NoTLS turns STARTTLS off: the server then speaks plain text only.
	NoTLS bool
	// Reply, when set, decides the answer to the n-th message (1-based) at the end of DATA:
	// nil accepts it, an error from [Reply] is sent as the server's reply.
	Reply func(n int) error
	// DropAfter, when > 0, closes a connection once it has delivered that many messages,
	// without a reply to whatever the client sends next: a server that dropped an idle
	// connection.
	DropAfter int
}

// Server is a running SMTP server that records every message it accepts.
type Server struct {
	// Host and Port are where it listens (Host is always "127.0.0.1").
	Host string
	Port int
	// CertPool trusts the server's self-signed certificate.
	CertPool *x509.CertPool

	opts  Options
	conns atomic.Int64
	tries atomic.Int64

	mu   sync.Mutex
	msgs []*Message
	wake chan struct{}
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	// Data is the message as received, headers and body.
	Data   []byte
	Header mail.Header
	// TLS reports whether the connection was encrypted; Auth is the AUTH mechanism used ("" for none).
	TLS  bool
	Auth string
}

// Reply builds an SMTP reply for [Options.Reply], such as Reply(451, "try again later").
func Reply(code int, text string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: text}
}

// NewServer starts a server on a loopback port; it stops when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Mechanisms == nil {
		opts.Mechanisms = []string{sasl.Plain, sasl.Login, "CRAM-MD5"}
	}
	cert, pool := selfSigned(t)
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s := &Server{CertPool: pool, opts: opts, wake: make(chan struct{}, 1)}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port

	srv := smtp.NewServer(s)
	srv.Domain = "mx.relata.test"
	srv.AllowInsecureAuth = true // tests also use AUTH over plain text on loopback
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = quietLog{}
	var ln net.Listener = &countingListener{Listener: l, n: &s.conns}
	switch {
	case opts.ImplicitTLS:
		ln = tls.NewListener(ln, tlsConfig)
	case !opts.NoTLS:
		srv.TLSConfig = tlsConfig
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = ln.Close() // in case Serve had not registered it yet
		<-done
	})
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return fmt.Sprintf("%s:%d", s.Host, s.Port) }

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Connections is how many TCP connections the server accepted.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Attempts is how many messages reached the end of DATA, accepted or not.
func (s *Server) Attempts() int { return int(s.tries.Load()) }

// Wait waits until the server accepted at least n messages or the timeout passed, and
// returns the accepted messages.
func (s *Server) Wait(n int, timeout time.Duration) []*Message {
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.wake:
		case <-deadline:
			return s.Messages()
		}
	}
}

// NewSession implements [smtp.Backend].
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, c: c}, nil
}

type session struct {
	s         *Server
	c         *smtp.Conn
	auth      string
	from      string
	to        []string
	delivered int
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string { return ss.s.opts.Mechanisms }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(ss.s.opts.Mechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, pass string) error {
		if user != ss.s.opts.Username || pass != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.auth = mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	case "CRAM-MD5":
		return &cramMD5Server{secret: ss.s.opts.Password, check: func(user string, ok bool) error {
			if !ok || user != ss.s.opts.Username {
				return smtp.ErrAuthFailed
			}
			ss.auth = mech
			return nil
		}}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.DropAfter > 0 && ss.delivered >= ss.s.opts.DropAfter {
		_ = ss.c.Conn().Close() // no reply: the client sees a network error
		return errors.New("connection dropped")
	}
	if ss.s.opts.Username != "" && ss.auth == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	n := int(ss.s.tries.Add(1))
	if ss.s.opts.Reply != nil {
		if err := ss.s.opts.Reply(n); err != nil {
			return err
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Reply(554, "cannot parse the message: "+err.Error())
	}
	_, isTLS := ss.c.TLSConnectionState()
	m := &Message{From: ss.from, To: slices.Clone(ss.to), Data: data, Header: msg.Header, TLS: isTLS, Auth: ss.auth}
	ss.delivered++
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	select {
	case ss.s.wake <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// Part returns the decoded body of the first MIME part with the given content type
// ("text/plain", "text/html"), or "" when there is none.
func (m *Message) Part(contentType string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	return findPart(textproto(msg.Header), msg.Body, contentType)
}

type textproto map[string][]string

func (h textproto) Get(k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func findPart(h textproto, body io.Reader, want string) string {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			if s := findPart(textproto(p.Header), p, want); s != "" {
				return s
			}
		}
	}
	if mt != want {
		return ""
	}
	var r io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, _ := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// loginServer is the server side of AUTH LOGIN: it asks for the user name, then the password.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (a *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch a.step {
	case 0:
		a.step++
		if resp == nil { // no initial response: ask for the user name
			return []byte("Username:"), false, nil
		}
		a.user = string(resp)
		a.step++
		return []byte("Password:"), false, nil
	case 1:
		a.user = string(resp)
		a.step++
		return []byte("Password:"), false, nil
	case 2:
		a.step++
		return nil, true, a.check(a.user, string(resp))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}

// cramMD5Server is the server side of AUTH CRAM-MD5 (RFC 2195): it sends a challenge and
// expects "user hex(hmac-md5(password, challenge))".
type cramMD5Server struct {
	challenge []byte
	secret    string
	check     func(user string, ok bool) error
}

func (a *cramMD5Server) Next(resp []byte) ([]byte, bool, error) {
	if a.challenge == nil {
		if resp != nil {
			return nil, false, sasl.ErrUnexpectedClientResponse
		}
		var b [8]byte
		_, _ = rand.Read(b[:])
		a.challenge = fmt.Appendf(nil, "<%x.%d@mx.relata.test>", b, time.Now().Unix())
		return a.challenge, false, nil
	}
	user, digest, ok := strings.Cut(string(resp), " ")
	if !ok {
		return nil, false, errors.New("malformed CRAM-MD5 response")
	}
	mac := hmac.New(md5.New, []byte(a.secret))
	mac.Write(a.challenge)
	want := hex.EncodeToString(mac.Sum(nil))
	return nil, true, a.check(user, hmac.Equal([]byte(want), []byte(digest)))
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

var (
	certOnce sync.Once
	certPair tls.Certificate
	certPool *x509.CertPool
	certErr  error
)

// selfSigned makes (once per test binary) a self-signed certificate for 127.0.0.1 and
// localhost, and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(time.Now().UnixNano()),
			Subject:               pkix.Name{CommonName: "Relata test SMTP server"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			DNSNames:              []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			certErr = err
			return
		}
		certPair = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		certPool = x509.NewCertPool()
		certPool.AddCert(leaf)
	})
	if certErr != nil {
		t.Fatal(certErr)
	}
	return certPair, certPool
}
