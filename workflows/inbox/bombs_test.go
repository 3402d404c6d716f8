package inbox_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/workflows/inbox"
)

// allocated runs f and returns the bytes the process allocated meanwhile. Tests using it are
// not parallel, so the count is this test's (and its listener's) alone.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// nested is a message whose text part is depth multiparts deep, every boundary closed.
func nested(from string, depth int, id string) string {
	var open, closing strings.Builder
	fmt.Fprintf(&open, "From: %s\r\nTo: ada@client.test\r\nSubject: nested\r\nMessage-ID: <%s@acme.test>\r\nMIME-Version: 1.0\r\n", from, id)
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&open, "Content-Type: multipart/mixed; boundary=\"b%x\"\r\n\r\n--b%x\r\n", i, i)
	}
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&closing, "\r\n--b%x--\r\n", i)
	}
	return open.String() + "Content-Type: text/plain\r\n\r\nDeep down.\r\n" + closing.String()
}

// TestMIMEBombsBounded sends, as an outsider to the reply address, messages whose MIME
// structure costs go-message far more than their size: a header and a part header of millions
// of empty fields, multiparts nested thousands deep, and thousands of parts. Each must cost a bounded
// multiple of its size; an ordinary nested message is still read.
func TestMIMEBombsBounded(t *testing.T) {
	e := newInbox(t, inbox.Config{})
	c := seed(t, e)

	var header strings.Builder
	header.WriteString("From: x@evil.test\r\nSubject: header bomb\r\nMessage-ID: <hb@evil.test>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n")
	for header.Len() < 8<<20 {
		header.WriteString("A:\r\n")
	}
	header.WriteString("\r\nx\r\n--b--\r\n")

	var top strings.Builder
	top.WriteString("From: x@evil.test\r\nSubject: top header bomb\r\n")
	for top.Len() < 1000<<10 {
		top.WriteString("A:\r\n")
	}
	top.WriteString("\r\nx\r\n")

	var parts strings.Builder
	parts.WriteString("From: x@evil.test\r\nSubject: many parts\r\nMessage-ID: <mp@evil.test>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for parts.Len() < 8<<20 {
		parts.WriteString("--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nx\r\n")
	}
	parts.WriteString("--b--\r\n")

	scenarios := []struct {
		name     string
		raw      string
		wantCode int    // 0: accepted
		maxAlloc uint64 // bytes allocated while the message is sent and handled
	}{
		// Before: 1 GiB and some 10 s for one message (3 GiB at the 25 MiB limit).
		{name: "8 MiB part header of empty fields", raw: header.String(), wantCode: 554, maxAlloc: 160 << 20},
		// Before: 125 MiB (and as much again for each DKIM check of it).
		{name: "1,000 KiB message header of empty fields", raw: top.String(), wantCode: 554, maxAlloc: 32 << 20},
		// Before: 100 MiB and seconds (20,000 deep in 1 MB: minutes).
		{name: "4,000 nested multiparts", raw: nested("x@evil.test", 4000, "deep"), maxAlloc: 48 << 20},
		{name: "8 MiB of 130,000 parts", raw: parts.String(), maxAlloc: 160 << 20},
	}
	for _, sc := range scenarios {
		var err error
		start := time.Now()
		n := allocated(func() { err = e.send(t, "x@evil.test", []string{"reply@" + domain}, sc.raw) })
		t.Logf("%s: %d bytes sent, %d MiB allocated, %v (%v)", sc.name, len(sc.raw), n>>20, time.Since(start), err)
		if got := code(err); got != sc.wantCode || sc.wantCode == 0 && err != nil {
			t.Errorf("%s: %v (code %d); want code %d", sc.name, err, got, sc.wantCode)
		}
		if n > sc.maxAlloc {
			t.Errorf("%s: %d MiB allocated; want at most %d MiB", sc.name, n>>20, sc.maxAlloc>>20)
		}
	}

	// A message as mail programs nest them (mixed, alternative, related) is read as before.
	if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, nested("rep@acme.test", 3, "shallow")); err != nil {
		t.Fatal(err)
	}
	acts := e.activities(t, dbx.HashExp{"contact": c.ada.Id})
	if len(acts) != 1 || !strings.Contains(acts[0].GetString("body"), "Deep down.") {
		t.Errorf("a message nested 3 deep: activities %v (%s)", acts, e.lastInbound(t).GetString("result"))
	}
}
