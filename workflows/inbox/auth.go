package inbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Sender authentication. Anyone can write any From: a forged From of a user would log
// activities on the contacts that user may view, and a reply's From names whoever the
// sender says. So before a message is handled, its From is authenticated in one of three
// ways (Config.Auth, env RELATA_INBOUND_AUTH):
//
//   - "dkim" (the default): Relata verifies the message's DKIM signatures itself
//     (emersion/go-msgauth, keys from DNS). The From is authenticated by a valid signature
//     whose domain (d=) is the From's domain or shares its organizational domain (DMARC's
//     relaxed alignment: mail.example.com and example.com align).
//   - "results:ID": Relata sits behind an MX that checks SPF, DKIM and DMARC and writes an
//     Authentication-Results header with its authserv-id ID (RFC 8601). A dmarc=pass, or an
//     aligned dkim=pass or spf=pass, in a header of that id authenticates the From. Headers
//     of other ids are ignored: the MX must remove ones with its own id from arriving mail,
//     as RFC 8601 asks.
//   - "off": no check; every From is taken as written (the behaviour before this check).
//
// A message with more than one From field is never authenticated (which From a signature
// covers and which one a reader sees can differ). The verdict is stored on the message
// (sender_auth). Only an authenticated From of a user logs a BCC; any other is quarantined.
// A reply is still put on the timeline (its In-Reply-To names an email Relata sent), with the
// verdict in its first line.

// Values of Config.Auth.
const (
	AuthDKIM = "dkim"
	AuthOff  = "off"
	// AuthResultsPrefix starts "results:ID", the mode that trusts the Authentication-Results
	// of the MX whose authserv-id is ID.
	AuthResultsPrefix = "results:"
)

// maxSignatures bounds the DKIM signatures verified per message (each may cost a DNS lookup).
const maxSignatures = 5

// dnsTimeout bounds each DNS lookup of a DKIM key.
const dnsTimeout = 10 * time.Second

// errAuthTemporary reports a verification that failed for a reason that may pass later (a
// DNS lookup that timed out): the message is refused with 451, so the sending server retries.
var errAuthTemporary = errors.New("the sender's DKIM key could not be looked up")

// verdict is the outcome of authenticating a message's From.
type verdict struct {
	pass bool
	text string // stored in inbound_emails.sender_auth
}

func checkAuthMode(mode string) error {
	switch {
	case mode == AuthDKIM || mode == AuthOff:
		return nil
	case strings.HasPrefix(mode, AuthResultsPrefix):
		id := strings.TrimPrefix(mode, AuthResultsPrefix)
		if id == "" || strings.ContainsAny(id, " \t\r\n;") {
			return fmt.Errorf("inbox: RELATA_INBOUND_AUTH %q: after %q comes the authserv-id of your MX (the first word of the Authentication-Results it writes), e.g. results:mx.example.com", mode, AuthResultsPrefix)
		}
		return nil
	}
	return fmt.Errorf("inbox: RELATA_INBOUND_AUTH %q is not dkim, results:<authserv-id> or off", mode)
}

// authenticate checks the From of raw (msg is raw parsed) as cfg.Auth says. It returns
// errAuthTemporary when no check passed and one could not be made for now.
func (in *Inbox) authenticate(raw []byte, msg *Message) (verdict, error) {
	mode := in.cfg.Auth
	if mode == AuthOff {
		return verdict{pass: true, text: "not checked (RELATA_INBOUND_AUTH=off)"}, nil
	}
	hdr, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return verdict{text: "none: the header could not be read"}, nil
	}
	if n := len(hdr.Values("From")); n != 1 {
		return verdict{text: fmt.Sprintf("fail: the message has %d From fields", n)}, nil
	}
	if msg.From == nil {
		return verdict{text: "fail: the From could not be read"}, nil
	}
	_, fromDomain, _ := strings.Cut(strings.ToLower(msg.From.Address), "@")
	if fromDomain == "" {
		return verdict{text: "fail: the From has no domain"}, nil
	}
	if id, ok := strings.CutPrefix(mode, AuthResultsPrefix); ok {
		return trustedResults(hdr, id, fromDomain), nil
	}
	return in.verifyDKIM(raw, fromDomain)
}

// verifyDKIM verifies the DKIM signatures of raw and looks for one aligned with fromDomain.
func (in *Inbox) verifyDKIM(raw []byte, fromDomain string) (verdict, error) {
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: in.lookupTXT, MaxVerifications: maxSignatures,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return verdict{text: clip("fail: the DKIM signatures could not be read: "+err.Error(), 1000)}, nil
	}
	if len(verifs) == 0 {
		return verdict{text: "none: no DKIM signature"}, nil
	}
	var why []string
	temporary := false
	for _, v := range verifs {
		d := strings.ToLower(v.Domain)
		switch {
		case v.Err == nil && aligned(d, fromDomain):
			return verdict{pass: true, text: "dkim=pass d=" + d}, nil
		case v.Err == nil:
			why = append(why, fmt.Sprintf("dkim=pass d=%s is not the From's domain %s", d, fromDomain))
		case dkim.IsTempFail(v.Err):
			temporary = true
			why = append(why, fmt.Sprintf("dkim=temperror d=%s: %v", d, v.Err))
		default:
			why = append(why, fmt.Sprintf("dkim=fail d=%s: %v", d, v.Err))
		}
	}
	if temporary {
		return verdict{text: clip(strings.Join(why, "; "), 1000)}, errAuthTemporary
	}
	return verdict{text: clip(strings.Join(why, "; "), 1000)}, nil
}

// lookupTXT reads the TXT records of a DKIM key with the configured resolver, bounded in time.
func (in *Inbox) lookupTXT(name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	defer cancel()
	r := in.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	return r.LookupTXT(ctx, name)
}

// trustedResults reads the Authentication-Results fields the MX with authserv-id id wrote.
func trustedResults(hdr textproto.Header, id, fromDomain string) verdict {
	var seen []string
	for _, v := range hdr.Values("Authentication-Results") {
		got, results, err := authres.Parse(v)
		if err != nil || !strings.EqualFold(got, id) {
			continue
		}
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DMARCResult:
				seen = append(seen, "dmarc="+string(r.Value))
				if r.Value == authres.ResultPass && (r.From == "" || aligned(strings.ToLower(r.From), fromDomain)) {
					return verdict{pass: true, text: id + ": dmarc=pass"}
				}
			case *authres.DKIMResult:
				d := strings.ToLower(r.Domain)
				seen = append(seen, "dkim="+string(r.Value)+" d="+d)
				if r.Value == authres.ResultPass && aligned(d, fromDomain) {
					return verdict{pass: true, text: id + ": dkim=pass d=" + d}
				}
			case *authres.SPFResult:
				_, d, _ := strings.Cut(strings.ToLower(r.From), "@")
				if d == "" {
					d = strings.ToLower(r.From)
				}
				seen = append(seen, "spf="+string(r.Value)+" smtp.mailfrom="+d)
				if r.Value == authres.ResultPass && aligned(d, fromDomain) {
					return verdict{pass: true, text: id + ": spf=pass smtp.mailfrom=" + d}
				}
			}
		}
	}
	if len(seen) == 0 {
		return verdict{text: "none: no Authentication-Results of " + id}
	}
	return verdict{text: clip(id+": "+strings.Join(seen, ", ")+", none aligned with "+fromDomain, 1000)}
}

// aligned reports whether a signing (or envelope) domain stands for the From's domain: the
// same domain, or the same organizational domain (DMARC's relaxed alignment).
func aligned(domain, fromDomain string) bool {
	domain, fromDomain = asciiDomain(domain), asciiDomain(fromDomain)
	if domain == "" {
		return false
	}
	if domain == fromDomain {
		return true
	}
	a, err1 := publicsuffix.EffectiveTLDPlusOne(domain)
	b, err2 := publicsuffix.EffectiveTLDPlusOne(fromDomain)
	return err1 == nil && err2 == nil && a == b
}

// senderNote is what the first line of a reply on the timeline says of its From.
func senderNote(v verdict) string {
	switch {
	case strings.HasPrefix(v.text, "not checked"):
		return ""
	case v.pass:
		return " — verified sender (" + v.text + ")"
	}
	return " — sender NOT verified (" + v.text + ")"
}

// asciiDomain is a domain in lower case and its ASCII form (a signature names "xn--bcher-kva.example"
// where a From may say "bücher.example"), "" when it is no domain name.
func asciiDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return ""
	}
	return a
}
