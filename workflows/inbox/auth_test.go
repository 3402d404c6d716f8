package inbox_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/pocketbase/dbx"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// dnsServer answers TXT queries over UDP on a loopback port from records (name → TXT
// strings); names in servfail get SERVFAIL, others NXDOMAIN. It returns a resolver that asks
// it, through the Go resolver's own client.
func dnsServer(t testing.TB, records map[string]string, servfail ...string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	failing := map[string]bool{}
	for _, n := range servfail {
		failing[n] = true
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
			rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true}
			txt, found := records[name]
			switch {
			case failing[name]:
				rh.RCode = dnsmessage.RCodeServerFailure
			case !found || q.Type != dnsmessage.TypeTXT:
				rh.RCode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, rh)
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if rh.RCode == dnsmessage.RCodeSuccess {
				_ = b.TXTResource(dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.TXTResource{TXT: []string{txt}})
			}
			msg, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(msg, addr)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dkimKey is a signing key published at sel._domainkey.DOMAIN.
type dkimKey struct {
	domain string
	key    ed25519.PrivateKey
}

func newDKIMKey(t testing.TB, domain string) dkimKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dkimKey{domain: domain, key: key}
}

func (k dkimKey) record() (string, string) {
	pub := k.key.Public().(ed25519.PublicKey)
	return "sel._domainkey." + k.domain, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
}

// sign returns raw with the key's DKIM-Signature prepended, made as a sending server makes it.
func (k dkimKey) sign(t testing.TB, raw string) string {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(raw), &dkim.SignOptions{
		Domain: k.domain, Selector: "sel", Signer: k.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestSenderAuthentication sends BCCs from a user's address to the dropbox over SMTP, signed
// and forged in the ways an outsider could, with the DKIM keys in a DNS server on a loopback
// port; and the same under "results:ID" behind an MX that checks.
func TestSenderAuthentication(t *testing.T) {
	t.Parallel()
	acme := newDKIMKey(t, "acme.test")        // Rita's company: the From's domain
	mail := newDKIMKey(t, "mail.acme.test")   // a subdomain of it: the same organization
	evil := newDKIMKey(t, "evil.test")        // an outsider's own, valid, domain
	unpublished := newDKIMKey(t, "acme.test") // a key acme.test never published
	records := map[string]string{}
	for _, k := range []dkimKey{acme, mail, evil} {
		name, txt := k.record()
		records[name] = txt
	}
	resolver := dnsServer(t, records, "sel._domainkey.down.test")
	down := newDKIMKey(t, "down.test")

	bcc := func(id string) string {
		return "From: Rita <rep@acme.test>\r\nTo: Ada <ada@client.test>\r\nSubject: Offer " + id +
			"\r\nMessage-ID: <" + id + "@acme.test>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\nThe offer, as promised.\r\n"
	}
	cases := []struct {
		name, auth string
		raw        func(id string) string
		logged     bool
		verdict    string // in sender_auth
		code       int    // SMTP reply code; 0 for accepted
	}{
		{"signed by the From's domain", "dkim", func(id string) string { return acme.sign(t, bcc(id)) }, true, "dkim=pass d=acme.test", 0},
		{"signed by a subdomain of it", "dkim", func(id string) string { return mail.sign(t, bcc(id)) }, true, "dkim=pass d=mail.acme.test", 0},
		{"unsigned", "dkim", bcc, false, "none: no DKIM signature", 0},
		{"signed by another domain", "dkim", func(id string) string { return evil.sign(t, bcc(id)) }, false, "d=evil.test is not the From's domain acme.test", 0},
		{"signed with a key the domain does not publish", "dkim", func(id string) string { return unpublished.sign(t, bcc(id)) }, false, "dkim=fail d=acme.test", 0},
		{"body changed after signing", "dkim", func(id string) string {
			return strings.Replace(acme.sign(t, bcc(id)), "as promised", "pay to IBAN XX00 0000", 1)
		}, false, "dkim=fail d=acme.test", 0},
		{"a second From above the signed one", "dkim", func(id string) string {
			return "From: rep@acme.test\r\n" + evil.sign(t, strings.Replace(bcc(id), "From: Rita <rep@acme.test>", "From: mallory@evil.test", 1))
		}, false, "2 From fields", 0},
		{"key lookup fails for now", "dkim", func(id string) string {
			return down.sign(t, strings.ReplaceAll(bcc(id), "acme.test", "down.test"))
		}, false, "", 451},
		{"trusted MX: dmarc=pass", "results:mx.acme.test", func(id string) string {
			return "Authentication-Results: mx.acme.test; spf=fail smtp.mailfrom=evil.test; dmarc=pass header.from=acme.test\r\n" + bcc(id)
		}, true, "mx.acme.test: dmarc=pass", 0},
		{"trusted MX: aligned dkim=pass", "results:mx.acme.test", func(id string) string {
			return "Authentication-Results: mx.acme.test; dkim=pass header.d=mail.acme.test\r\n" + bcc(id)
		}, true, "mx.acme.test: dkim=pass d=mail.acme.test", 0},
		{"trusted MX: dkim=pass of another domain", "results:mx.acme.test", func(id string) string {
			return "Authentication-Results: mx.acme.test; dkim=pass header.d=evil.test; dmarc=fail header.from=acme.test\r\n" + bcc(id)
		}, false, "none aligned with acme.test", 0},
		{"results written by someone else", "results:mx.acme.test", func(id string) string {
			return "Authentication-Results: mx.evil.test; dmarc=pass header.from=acme.test\r\n" + bcc(id)
		}, false, "none: no Authentication-Results of mx.acme.test", 0},
		{"not checked", "off", bcc, true, "not checked", 0},
	}
	envs := map[string]*env{}
	for _, mode := range []string{"dkim", "results:mx.acme.test", "off"} {
		e := newInbox(t, inbox.Config{Auth: mode, Resolver: resolver})
		seed(t, e)
		envs[mode] = e
	}
	for i, tc := range cases {
		e := envs[tc.auth]
		id := "offer-" + string(rune('a'+i))
		before := e.count(t, inbox.Collection, nil)
		err := e.send(t, "rep@acme.test", []string{"log@" + domain}, tc.raw(id))
		if got := code(err); got != tc.code || (tc.code == 0 && err != nil) {
			t.Errorf("%s: SMTP %v (code %d); want code %d", tc.name, err, got, tc.code)
			continue
		}
		if tc.code != 0 {
			if n := e.count(t, inbox.Collection, nil); n != before {
				t.Errorf("%s: refused with %d, but %d messages were stored", tc.name, tc.code, n-before)
			}
			continue
		}
		in := e.lastInbound(t)
		if got := in.GetString("sender_auth"); !strings.Contains(got, tc.verdict) {
			t.Errorf("%s: sender_auth %q; want it to say %q", tc.name, got, tc.verdict)
		}
		acts := e.activities(t, dbx.HashExp{"subject": "Offer " + id})
		switch {
		case tc.logged && (in.GetString("kind") != inbox.KindLogged || len(acts) == 0):
			t.Errorf("%s: kind %q, %d activities; want logged (%s)", tc.name, in.GetString("kind"), len(acts), in.GetString("result"))
		case !tc.logged && (in.GetString("kind") != inbox.KindQuarantined || len(acts) != 0):
			t.Errorf("%s: kind %q, %d activities; want quarantined, nothing logged", tc.name, in.GetString("kind"), len(acts))
		case !tc.logged && !strings.Contains(in.GetString("result"), "not authenticated"):
			t.Errorf("%s: result %q does not say why", tc.name, in.GetString("result"))
		}
	}
}

// TestSenderAuthenticationIsTheDefault: without RELATA_INBOUND_AUTH a user's unsigned BCC
// logs nothing.
func TestSenderAuthenticationIsTheDefault(t *testing.T) {
	t.Parallel()
	e := newInboxDefaultAuth(t, inbox.Config{})
	seed(t, e)
	raw := "From: rep@acme.test\r\nTo: ada@client.test\r\nSubject: Unsigned\r\nMessage-ID: <u-1@acme.test>\r\n\r\nHi\r\n"
	if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, raw); err != nil {
		t.Fatal(err)
	}
	if in := e.lastInbound(t); in.GetString("kind") != inbox.KindQuarantined || in.GetString("sender_auth") != "none: no DKIM signature" {
		t.Errorf("kind %q sender_auth %q; want quarantined, no DKIM signature", in.GetString("kind"), in.GetString("sender_auth"))
	}
}

// TestReplySenderOnTheTimeline: a reply is put on the timeline whoever sent it (it names an
// email Relata sent), and its first line says whether its From was verified.
func TestReplySenderOnTheTimeline(t *testing.T) {
	t.Parallel()
	client := newDKIMKey(t, "client.test")
	name, txt := client.record()
	e := newInbox(t, inbox.Config{Auth: inbox.AuthDKIM, Resolver: dnsServer(t, map[string]string{name: txt})})
	c := seed(t, e)
	sink := outboxtest.NewServer(t, outboxtest.Options{})
	for _, tc := range []struct {
		name   string
		signed bool
		want   string
	}{
		{"signed by the client's domain", true, "— verified sender (dkim=pass d=client.test)"},
		{"unsigned", false, "— sender NOT verified (none: no DKIM signature)"},
	} {
		email := e.sent(t, sink, "ada@client.test", "contacts", c.ada.Id)
		raw := readFixture(t, "reply.eml", "{{IN_REPLY_TO}}", email.GetString("message_id"), "reply-1@", email.Id+"@")
		if tc.signed {
			raw = client.sign(t, raw)
		}
		if err := e.send(t, "ada@client.test", []string{"reply@" + domain}, raw); err != nil {
			t.Fatal(err)
		}
		in := e.lastInbound(t)
		if in.GetString("kind") != inbox.KindReply {
			t.Fatalf("%s: kind %q (%s); want a reply", tc.name, in.GetString("kind"), in.GetString("result"))
		}
		acts := e.activities(t, dbx.NewExp("contact = {:c} AND type = 'email' AND body LIKE 'From %'", dbx.Params{"c": c.ada.Id}))
		found := false
		for _, a := range acts {
			first, _, _ := strings.Cut(a.GetString("body"), "\n")
			if strings.Contains(first, tc.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no reply on Ada's timeline whose first line says %q", tc.name, tc.want)
		}
	}
}

// FuzzSenderAuthentication delivers fuzzed messages from a user's address to the dropbox
// and checks that none is logged without a sender check passing: in "dkim" mode no key is
// published at all (every signature fails), and in "results:mx.acme.test" mode only a
// message that names that authserv-id can pass.
//
//	go test -run '^$' -fuzz '^FuzzSenderAuthentication$' -fuzztime 1m ./workflows/inbox/
func FuzzSenderAuthentication(f *testing.F) {
	signed := newDKIMKey(f, "acme.test").sign(f, "From: rep@acme.test\r\nTo: ada@client.test\r\nSubject: Hi\r\n\r\nHello\r\n")
	for _, s := range []string{
		"From: rep@acme.test\r\nTo: ada@client.test\r\nSubject: Hi\r\n\r\nHello\r\n",
		signed,
		"From: rep@acme.test\r\n" + signed,
		"Authentication-Results: mx.acme.test; dmarc=pass header.from=acme.test\r\nFrom: rep@acme.test\r\nTo: ada@client.test\r\n\r\nHi\r\n",
		"Authentication-Results: mx.evil.test; dkim=pass header.d=acme.test\r\nFrom: rep@acme.test\r\nTo: ada@client.test\r\n\r\nHi\r\n",
		"Authentication-Results: mx.acme.test; dkim=pass header.d=evil.test; spf=pass smtp.mailfrom=x@evil.test\r\nFrom: REP@ACME.TEST\r\nTo: ada@client.test\r\n\r\nHi\r\n",
		"From: =?utf-8?q?Rita?= <rep@acme.test>\r\nFrom: rep@acme.test\r\nTo: ada@client.test\r\n\r\nHi\r\n",
	} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
	}
	resolver := dnsServer(f, nil)
	envs := []*env{
		newInbox(f, inbox.Config{Auth: inbox.AuthDKIM, Resolver: resolver}),
		newInbox(f, inbox.Config{Auth: "results:mx.acme.test", Resolver: resolver}),
	}
	for _, e := range envs {
		schemastest.NewUser(f, e.app, "rep@acme.test", "sales", "north")
	}
	f.Fuzz(func(t *testing.T, mode uint8, raw string) {
		e := envs[int(mode)%2]
		rec, err := e.in.Deliver("rep@acme.test", []string{"log@" + domain}, []byte(raw))
		if err != nil || rec == nil {
			return // not mail, or refused for now: nothing stored
		}
		if rec.GetString("kind") != inbox.KindLogged {
			return
		}
		if mode%2 == 0 || !strings.Contains(strings.ToLower(raw), "mx.acme.test") {
			t.Fatalf("logged with sender_auth %q:\n%q", rec.GetString("sender_auth"), raw)
		}
	})
}
