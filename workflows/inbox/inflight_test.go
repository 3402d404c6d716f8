package inbox_test

import (
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/relata/relata/workflows/inbox"
)

// dialFrom opens an SMTP client from the loopback address local and starts a message to the
// reply address, returning its DATA writer.
func dialFrom(t *testing.T, addr, local string) (*smtp.Client, io.WriteCloser) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("mx.evil.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("x@evil.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("reply@"+domain, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// TestInflightBytesBounded: an outsider opens many connections and sends each a large message,
// never ending it. The server used to hold every one in memory at once (MaxConnections ×
// MaxMessageBytes: 2.5 GiB with the defaults); now the messages being received share a
// budget, of which one client address may hold a quarter (or one message), and a message
// beyond it is answered 452 and retried later by its sender. Once the connections are gone,
// mail is accepted again.
func TestInflightBytesBounded(t *testing.T) {
	t.Parallel()
	const limit = 2 << 20 // the budget: 4 MiB, per client 2 MiB
	e := newInbox(t, inbox.Config{MaxMessageBytes: limit, MaxInflightBytes: 2 * limit, MaxConnectionsPerIP: 100, MaxMessagesPerMinute: 1000})
	addr := e.in.Addr()
	body := func(n int) string {
		line := strings.Repeat("x", 98) + "\r\n"
		return "From: x@evil.test\r\nSubject: big\r\n\r\n" + strings.Repeat(line, n/len(line))
	}
	partial, probe := body(900<<10), body(1500<<10)
	var clients []*smtp.Client
	var wg sync.WaitGroup
	unfinished := func(local string, n int) {
		for i := 0; i < n; i++ {
			c, w := dialFrom(t, addr, local)
			clients = append(clients, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.WriteString(w, partial) // and never the final dot
			}()
		}
	}
	send := func(local string) error {
		c, w := dialFrom(t, addr, local)
		defer c.Close()
		if _, err := io.WriteString(w, probe); err != nil {
			return err
		}
		return w.Close()
	}
	deadline := time.Now().Add(20 * time.Second)
	deferredFor := func(local string) {
		t.Helper()
		for accepted := 0; ; accepted++ {
			err := send(local)
			if code(err) == 452 {
				return
			}
			if err != nil {
				t.Fatalf("from %s: %v", local, err)
			}
			if time.Now().After(deadline) {
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				t.Fatalf("live heap %d MiB: unfinished messages of %d KiB, and %s is still accepted (%d times)", m.HeapAlloc>>20, len(partial)>>10, local, accepted)
			}
		}
	}

	// One address's 20 unfinished messages hold its share: it is deferred, another is not.
	unfinished("127.0.0.1", 20)
	deferredFor("127.0.0.1")
	if err := send("127.0.0.2"); err != nil {
		t.Errorf("another address, while the first holds its share: %v", err)
	}
	// Four more addresses with 5 each hold the whole budget: everyone is deferred.
	for _, local := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"} {
		unfinished(local, 5)
	}
	deferredFor("127.0.0.7")
	wg.Wait()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("40 unfinished messages of %d KiB from 5 addresses (36 MiB): live heap %d MiB (of the whole test binary)", len(partial)>>10, m.HeapAlloc>>20)
	for _, c := range clients {
		c.Close()
	}
	// Their budget is given back when the connections end.
	for {
		err := send("127.0.0.1")
		if err == nil {
			break
		}
		if code(err) != 452 || time.Now().After(deadline.Add(10*time.Second)) {
			t.Fatalf("after the connections closed: %v", err)
		}
		runtime.Gosched()
	}
}
