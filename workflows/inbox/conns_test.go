package inbox_test

import (
	"bufio"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/workflows/inbox"
)

// greeting connects from the loopback address local and returns the server's first line.
func greeting(t *testing.T, addr, local string) (net.Conn, string) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no greeting: %v", err)
	}
	return c, line
}

// TestConnectionsBounded: an outsider opens 500 connections and keeps them open (each costs
// the server a goroutine, buffers and a file descriptor the HTTP server also needs, for 5
// minutes per command; any of them may send a message of up to 25 MiB). Beyond 20 from one
// address, or 100 in all, a connection is answered 421; once some close, mail gets in again.
func TestConnectionsBounded(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	addr := e.in.Addr()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	count := func(local string, n int) (open []net.Conn, greeted, refused int) {
		for i := 0; i < n; i++ {
			c, line := greeting(t, addr, local)
			t.Cleanup(func() { c.Close() })
			switch {
			case strings.HasPrefix(line, "220 "):
				greeted++
				open = append(open, c)
			case strings.HasPrefix(line, "421 "):
				refused++
				c.Close()
			default:
				t.Fatalf("greeting %q", line)
			}
		}
		return open, greeted, refused
	}
	first, greeted, refused := count("127.0.0.1", 500)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("500 connections from one address: %d greeted, %d refused; %d goroutines more, heap %d MiB more",
		greeted, refused, runtime.NumGoroutine()-goroutines, (int64(after.HeapInuse)-int64(before.HeapInuse))>>20)
	if greeted != 20 || refused != 480 {
		t.Errorf("500 connections from one address: %d greeted, %d refused; want 20 and 480", greeted, refused)
	}
	// Other addresses fill the server up to 100.
	for i := 2; i <= 5; i++ {
		if _, g, _ := count("127.0.0."+string(rune('0'+i)), 20); g != 20 {
			t.Fatalf("127.0.0.%d: %d greeted; want 20", i, g)
		}
	}
	if _, g, r := count("127.0.0.6", 5); g != 0 || r != 5 {
		t.Errorf("with 100 open: %d greeted, %d refused; want all refused", g, r)
	}
	// The first address closes its connections: it is greeted again once the server sees it.
	for _, c := range first {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, line := greeting(t, addr, "127.0.0.1")
		c.Close()
		if strings.HasPrefix(line, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused after the connections closed: %q", line)
		}
		runtime.Gosched()
	}
	// And mail is delivered.
	seed(t, e)
	if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, readFixture(t, "bcc.eml")); err != nil {
		t.Fatal(err)
	}
}
