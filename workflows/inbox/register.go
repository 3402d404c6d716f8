package inbox

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"

	"github.com/relata/relata/workflows/outbox"
)

// Config configures the inbound mail listener. Zero fields fall back to the environment
// variable named, then to the default.
type Config struct {
	// Registry is the object model (which object holds activities, which hold contacts).
	// Required.
	Registry *schemas.Registry
	// Addr is where the SMTP listener listens, e.g. ":2525" (env RELATA_INBOUND_ADDR).
	// Default: none — no listener.
	Addr string
	// Domain is the only domain whose recipients are accepted (env RELATA_INBOUND_DOMAIN).
	// Required when Addr is set.
	Domain string
	// Dropbox is the local part of the BCC/forward logging address (env
	// RELATA_INBOUND_DROPBOX). Default: "log".
	Dropbox string
	// Mailboxes are further local parts accepted, e.g. the reply address outbound mail
	// names in Reply-To. Default: "reply" and "postmaster".
	Mailboxes []string
	// TLSCert and TLSKey are PEM files; with both, STARTTLS is offered (env
	// RELATA_INBOUND_TLS_CERT, RELATA_INBOUND_TLS_KEY). Default: no STARTTLS.
	TLSCert, TLSKey string
	// TLSConfig, when set, is used instead of TLSCert/TLSKey.
	TLSConfig *tls.Config
	// Auth is how the From of a message is authenticated (env RELATA_INBOUND_AUTH):
	// [AuthDKIM] (Relata verifies DKIM signatures), "results:ID" (trust the
	// Authentication-Results of the MX whose authserv-id is ID) or [AuthOff]. Only an
	// authenticated From of a user logs a BCC. Default: "dkim". See auth.go.
	Auth string
	// Resolver looks up DKIM keys. Default: net.DefaultResolver.
	Resolver *net.Resolver
	// MaxMessageBytes is the largest message accepted (env RELATA_INBOUND_MAX_BYTES).
	// Default: 25 MiB.
	MaxMessageBytes int64
	// MaxMessagesPerMinute is the most messages one client (IP address, IPv6 /64) may send
	// a minute; further ones are answered 451 and retried later by their sender. Every
	// accepted message is stored, whoever sent it. Default: 60.
	MaxMessagesPerMinute int
	// MaxInflightBytes bounds the bytes of all messages being received at once (each is
	// read into memory); a message that would take more is answered 452 and its sender
	// retries later. Default: 8 × MaxMessageBytes.
	MaxInflightBytes int64
	// MaxRecipients is the most RCPT TO per message. Default: 100.
	MaxRecipients int
	// MaxConnections is the most SMTP connections open at once, MaxConnectionsPerIP the
	// most from one client address; a connection beyond either is answered 421 and closed
	// (the sending server retries later). Defaults: 100 and 20.
	MaxConnections, MaxConnectionsPerIP int
	// BodyCap is how much of the text and of the HTML is stored. Default: 256 KiB.
	BodyCap int
	// MaxRepliesPerDay is the most replies to one sent email put on the timeline in 24
	// hours; further ones are accepted and dropped (not stored) with a warning in the log, so
	// that whoever received one email cannot flood a record's timeline by replying to it.
	// Default: 20.
	MaxRepliesPerDay int
	// SoftBounceLimit is how many soft bounces (of distinct messages) suppress an address.
	// Default: 3.
	SoftBounceLimit int
	// Timeout bounds each read and write of a connection. Default: 5m.
	Timeout time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Getenv reads environment variables. Default: os.Getenv.
	Getenv func(string) string
}

func (c Config) withDefaults() (Config, error) {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	env := func(dst *string, key string) {
		if *dst == "" {
			*dst = strings.TrimSpace(c.Getenv(key))
		}
	}
	env(&c.Addr, "RELATA_INBOUND_ADDR")
	env(&c.Domain, "RELATA_INBOUND_DOMAIN")
	env(&c.Dropbox, "RELATA_INBOUND_DROPBOX")
	env(&c.TLSCert, "RELATA_INBOUND_TLS_CERT")
	env(&c.TLSKey, "RELATA_INBOUND_TLS_KEY")
	env(&c.Auth, "RELATA_INBOUND_AUTH")
	if c.Auth == "" {
		c.Auth = AuthDKIM
	}
	if err := checkAuthMode(c.Auth); err != nil {
		return c, err
	}
	if v := c.Getenv("RELATA_INBOUND_MAX_BYTES"); c.MaxMessageBytes == 0 && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("inbox: RELATA_INBOUND_MAX_BYTES %q is not a positive number of bytes", v)
		}
		c.MaxMessageBytes = n
	}
	c.Domain = strings.ToLower(strings.TrimSuffix(c.Domain, "."))
	if c.Addr != "" && c.Domain == "" {
		return c, errors.New("inbox: an inbound SMTP address needs the domain it accepts mail for (--inboundDomain or RELATA_INBOUND_DOMAIN)")
	}
	if c.Domain != "" && (strings.ContainsAny(c.Domain, "@ <>\r\n") || !strings.Contains(c.Domain, ".") && c.Domain != "localhost") {
		return c, fmt.Errorf("inbox: %q is not a domain name", c.Domain)
	}
	if c.Dropbox == "" {
		c.Dropbox = "log"
	}
	c.Dropbox = strings.ToLower(c.Dropbox)
	if c.Mailboxes == nil {
		c.Mailboxes = []string{"reply", "postmaster"}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, errors.New("inbox: STARTTLS needs both a certificate and a key file")
	}
	if c.TLSConfig == nil && c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return c, fmt.Errorf("inbox: STARTTLS certificate %s / key %s: %w", c.TLSCert, c.TLSKey, err)
		}
		c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 25 << 20
	}
	if c.MaxMessagesPerMinute <= 0 {
		c.MaxMessagesPerMinute = 60
	}
	if c.MaxInflightBytes <= 0 {
		c.MaxInflightBytes = 8 * c.MaxMessageBytes
	}
	if c.MaxInflightBytes < c.MaxMessageBytes {
		c.MaxInflightBytes = c.MaxMessageBytes
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = 100
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 100
	}
	if c.MaxConnectionsPerIP <= 0 {
		c.MaxConnectionsPerIP = 20
	}
	if c.BodyCap <= 0 {
		c.BodyCap = 256 << 10
	}
	if c.MaxRepliesPerDay <= 0 {
		c.MaxRepliesPerDay = 20
	}
	if c.SoftBounceLimit <= 0 {
		c.SoftBounceLimit = 3
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Inbox receives inbound mail. Build it with [Register].
type Inbox struct {
	app core.App
	cfg Config

	budget budget          // bytes of the messages being received (readMessage)
	rate   rateLimit       // messages per client and minute
	verp   outbox.VERPKeys // the key of VERP tags (verpEmail)

	mu     sync.Mutex
	server *smtp.Server
	ln     net.Listener
	done   chan struct{}
}

// Register adds inbound mail to app: with an address configured, the SMTP listener starts
// with the server and stops when it terminates. Without one, nothing listens, but
// [Inbox.Deliver] still works (tests, other transports).
func Register(app core.App, cfg Config) (*Inbox, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Registry == nil {
		return nil, errors.New("inbox: Config.Registry is required")
	}
	in := &Inbox{app: app, cfg: cfg}
	if cfg.Addr == "" {
		return in, nil
	}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.inbox.start",
		Priority: -70, // after the object model is in sync
		Func: func(se *core.ServeEvent) error {
			if err := in.Start(); err != nil {
				return err
			}
			return se.Next()
		},
	})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id: "relata.inbox.stop",
		Func: func(te *core.TerminateEvent) error {
			in.Stop()
			return te.Next()
		},
	})
	return in, nil
}

// MustRegister is like [Register] but panics on error.
func MustRegister(app core.App, cfg Config) *Inbox {
	in, err := Register(app, cfg)
	if err != nil {
		panic(err)
	}
	return in
}

// Domain is the domain the inbox accepts mail for.
func (in *Inbox) Domain() string { return in.cfg.Domain }

// Start listens on the configured address and serves SMTP until [Inbox.Stop].
func (in *Inbox) Start() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.server != nil {
		return nil
	}
	if in.cfg.Domain == "" {
		return errors.New("inbox: no domain configured")
	}
	tcp, err := net.Listen("tcp", in.cfg.Addr)
	if err != nil {
		return fmt.Errorf("inbox: listen on %s: %w", in.cfg.Addr, err)
	}
	ln := &limitListener{Listener: tcp, max: in.cfg.MaxConnections, perIP: in.cfg.MaxConnectionsPerIP, byIP: map[string]int{}, app: in.app}
	s := smtp.NewServer(&backend{in: in})
	s.Addr = ln.Addr().String()
	s.Domain = in.cfg.Domain
	s.MaxMessageBytes = in.cfg.MaxMessageBytes
	s.MaxRecipients = in.cfg.MaxRecipients
	s.ReadTimeout = in.cfg.Timeout
	s.WriteTimeout = in.cfg.Timeout
	s.TLSConfig = in.cfg.TLSConfig
	s.ErrorLog = smtpLogger{in.app}
	in.server, in.ln, in.done = s, ln, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			in.app.Logger().Error("relata: inbound SMTP stopped", "error", err)
		}
	}(in.done)
	in.app.Logger().Info("relata: inbound SMTP listening", "addr", ln.Addr().String(), "domain", in.cfg.Domain, "starttls", in.cfg.TLSConfig != nil, "senderAuth", in.cfg.Auth)
	if in.cfg.Auth == AuthOff {
		in.app.Logger().Warn("relata: inbound sender authentication is off (RELATA_INBOUND_AUTH=off): anyone who knows a user's address can log mail as that user")
	}
	return nil
}

// Addr is the address the listener listens on ("" when it does not).
func (in *Inbox) Addr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ln == nil {
		return ""
	}
	return in.ln.Addr().String()
}

// Stop closes the listener and the open connections, and waits for the server to end.
func (in *Inbox) Stop() {
	in.mu.Lock()
	s, ln, done := in.server, in.ln, in.done
	in.server, in.ln, in.done = nil, nil, nil
	in.mu.Unlock()
	if s == nil {
		return
	}
	_ = s.Close()
	// Serve may not have registered the listener with the server yet: close it here too.
	_ = ln.Close()
	<-done
}

// limitListener bounds the connections open at once, in all and per client address: each
// one holds a goroutine, buffers and a file descriptor (which the HTTP server needs too) for
// up to Config.Timeout per command, and a message of up to MaxMessageBytes while it is read.
// A connection beyond a bound is answered 421 and closed, so the sender retries later.
type limitListener struct {
	net.Listener
	max, perIP int
	app        core.App

	mu   sync.Mutex
	open int
	byIP map[string]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := clientKey(c.RemoteAddr())
		l.mu.Lock()
		ok := l.open < l.max && l.byIP[ip] < l.perIP
		if ok {
			l.open++
			l.byIP[ip]++
		}
		l.mu.Unlock()
		if ok {
			return &limitConn{Conn: c, l: l, ip: ip}, nil
		}
		l.app.Logger().Warn("relata: inbound SMTP connection refused: too many open", "client", ip)
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write([]byte("421 4.7.0 Too many connections, try again later\r\n"))
			_ = c.Close()
		}()
	}
}

// limitConn gives its slot back when closed.
type limitConn struct {
	net.Conn
	l    *limitListener
	ip   string
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		if c.l.byIP[c.ip]--; c.l.byIP[c.ip] <= 0 {
			delete(c.l.byIP, c.ip)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// smtpLogger sends go-smtp's connection errors to the app's log.
type smtpLogger struct{ app core.App }

func (l smtpLogger) Printf(format string, v ...any) {
	l.app.Logger().Warn("relata: inbound SMTP", "message", fmt.Sprintf(format, v...))
}

func (l smtpLogger) Println(v ...any) {
	l.app.Logger().Warn("relata: inbound SMTP", "message", fmt.Sprint(v...))
}
