package main

import (
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is an SMTP server on loopback that accepts every message and notes when each
// recipient received one. Relata delivers the end-to-end workload's emails to it.
type sink struct {
	srv  *smtp.Server
	ln   net.Listener
	host string
	port string

	mu       sync.Mutex
	received map[string]time.Time // recipient (lowercase) → first delivery
	copies   map[string]int       // recipient → messages received
}

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln, received: map[string]time.Time{}, copies: map[string]int{}}
	s.host, s.port, _ = net.SplitHostPort(ln.Addr().String())
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.bench.local"
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 1000
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) close() { _ = s.srv.Close() }

// NewSession implements smtp.Backend.
func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

// count returns how many recipients starting with prefix received a message.
func (s *sink) count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for to := range s.received {
		if strings.HasPrefix(to, prefix) {
			n++
		}
	}
	return n
}

// messages returns how many messages recipients starting with prefix received in all.
func (s *sink) messages(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for to, c := range s.copies {
		if strings.HasPrefix(to, prefix) {
			n += c
		}
	}
	return n
}

// receivedAt returns when to first received a message.
func (s *sink) receivedAt(to string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.received[strings.ToLower(to)]
	return t, ok
}

type sinkSession struct {
	s   *sink
	rcp []string
}

func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.rcp = append(ss.rcp, strings.ToLower(to))
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	now := time.Now()
	ss.s.mu.Lock()
	for _, to := range ss.rcp {
		ss.s.copies[to]++
		if _, seen := ss.s.received[to]; !seen {
			ss.s.received[to] = now
		}
	}
	ss.s.mu.Unlock()
	ss.rcp = nil
	return nil
}

func (ss *sinkSession) Reset()        { ss.rcp = nil }
func (ss *sinkSession) Logout() error { return nil }
