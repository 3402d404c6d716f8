package inbox_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"

	"github.com/relata/relata/workflows/inbox"
)

// clock is a Config.Now the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestMessagesPerClientBounded: every accepted message is stored (quarantined or unmatched,
// text and HTML up to 256 KiB each), so an outsider sending without end over one connection
// filled the database's disk and queued write after write. One client address may send
// MaxMessagesPerMinute; the rest are deferred with 451 (its server retries), another
// address is not affected, and the next minute the first may send again.
func TestMessagesPerClientBounded(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	e := newInbox(t, inbox.Config{MaxMessagesPerMinute: 10, Now: clk.now})
	spam := "From: x@evil.test\r\nTo: log@" + domain + "\r\nSubject: spam\r\n\r\n" + "junk\r\n"
	sendMany := func(local string, n int) (accepted, deferred int) {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		conn, err := d.Dial("tcp", e.in.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c := smtp.NewClient(conn)
		defer c.Close()
		if err := c.Hello("mx.evil.test"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := c.Mail("x@evil.test", nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt("log@"+domain, nil); err != nil {
				t.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(w, spam)
			switch err := w.Close(); {
			case err == nil:
				accepted++
			case code(err) == 451:
				deferred++
			default:
				t.Fatalf("message %d: %v", i, err)
			}
		}
		return accepted, deferred
	}
	a, d := sendMany("127.0.0.1", 100)
	if a != 10 || d != 90 {
		t.Errorf("100 messages over one connection: %d accepted, %d deferred; want 10 and 90", a, d)
	}
	if n := e.count(t, inbox.Collection, dbx.HashExp{"kind": inbox.KindQuarantined}); n != 10 {
		t.Errorf("%d messages stored; want 10", n)
	}
	if a, _ := sendMany("127.0.0.2", 1); a != 1 {
		t.Error("another client address is deferred too")
	}
	clk.add(time.Minute)
	if a, _ := sendMany("127.0.0.1", 1); a != 1 {
		t.Error("a minute later the client is still deferred")
	}
}
