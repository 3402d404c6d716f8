package inbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode the charsets mail arrives in
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Message is an inbound email as Relata reads it: its header fields, its first text and
// HTML parts, the headers of a forwarded message and a delivery status report.
type Message struct {
	From      *gomail.Address
	To, Cc    []*gomail.Address
	Subject   string
	MessageID string // without the angle brackets
	// InReplyTo and References are message ids without angle brackets.
	InReplyTo, References []string
	// Text and HTML are the first text/plain and text/html parts that are not attachments,
	// cut to the size cap (Truncated tells). HTML is as received: sanitise before storing.
	Text, HTML string
	Truncated  bool
	// Forwarded holds the headers of the forwarded message: an attached message/rfc822,
	// or the header block of an inline forward ("---------- Forwarded message ---------").
	Forwarded *Forwarded
	// Report is the delivery status notification (RFC 3464) the message carries, if any.
	Report *Report
}

// Forwarded is the header of a forwarded (or, in a bounce, the returned) message.
type Forwarded struct {
	From      *gomail.Address
	To, Cc    []*gomail.Address
	Subject   string
	MessageID string
}

// Report is a delivery status notification (multipart/report; report-type=delivery-status).
type Report struct {
	// ReportingMTA is the per-message Reporting-MTA field.
	ReportingMTA string
	// OriginalMessageID is the Message-ID of the returned message or headers, if included.
	OriginalMessageID string
	Recipients        []Recipient
}

// Recipient is one per-recipient block of a delivery status notification.
type Recipient struct {
	Address    string // from Final-Recipient (or Original-Recipient), lower case
	Action     string // failed, delayed, delivered, relayed, expanded
	Status     string // RFC 3463 code, e.g. 5.1.1
	Diagnostic string
}

// Hard reports whether the recipient failed permanently (status 5.x.x).
func (r Recipient) Hard() bool { return strings.HasPrefix(r.Status, "5.") }

// Soft reports whether delivery failed or was delayed temporarily (status 4.x.x).
func (r Recipient) Soft() bool {
	return strings.HasPrefix(r.Status, "4.") && (r.Action == "failed" || r.Action == "delayed")
}

// ErrNotMail is returned by [Parse] for input that is not an Internet message.
var ErrNotMail = errors.New("not an email message")

// maxReport bounds the delivery-status part and the returned headers that are read.
const maxReport = 256 << 10

// Parse reads a MIME message with go-message. bodyCap bounds the text and the HTML kept
// (each); longer bodies are cut and Truncated is set.
func Parse(r io.Reader, bodyCap int) (*Message, error) {
	e, err := message.Read(&fieldCap{r: r})
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("%w: header: %v", ErrNotMail, err)
	}
	if e.Header.Len() == 0 {
		return nil, fmt.Errorf("%w: no header fields", ErrNotMail)
	}
	m := &Message{}
	h := gomail.Header{Header: e.Header}
	m.From, m.To, m.Cc, m.Subject, m.MessageID = addresses(h)
	m.InReplyTo, _ = h.MsgIDList("In-Reply-To")
	m.References, _ = h.MsgIDList("References")

	err = walk(e, func(path []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		ct, params, _ := part.Header.ContentType()
		disp, _, _ := part.Header.ContentDisposition()
		switch {
		case strings.HasPrefix(ct, "multipart/"):
			return nil
		case ct == "message/delivery-status" || ct == "message/global-delivery-status":
			rep, err := readReport(part.Body)
			if err != nil {
				return err
			}
			if m.Report == nil {
				m.Report = rep
			}
		case ct == "message/rfc822" || ct == "message/global":
			inner, err := message.Read(&fieldCap{r: io.LimitReader(part.Body, maxReport)})
			if inner == nil {
				return nil // not a message after all: ignore the attachment
			}
			_ = err // an unknown charset still leaves the header readable
			m.setForwarded(inner.Header)
			if m.Text == "" {
				// A bare forward: the forwarded message's text stands for the body.
				if t, _, err := firstText(inner, bodyCap); err == nil {
					m.Text = t
				}
			}
		case ct == "text/rfc822-headers" || ct == "message/global-headers":
			hdr, err := textproto.ReadHeader(bufio.NewReader(&fieldCap{r: io.LimitReader(part.Body, maxReport)}))
			if err == nil || hdr.Len() > 0 {
				m.setForwarded(message.Header{Header: hdr})
			}
		case disp == "attachment":
			return nil
		case ct == "text/plain" && m.Text == "":
			m.Text, m.Truncated = readCapped(part.Body, bodyCap, m.Truncated)
		case ct == "text/html" && m.HTML == "":
			m.HTML, m.Truncated = readCapped(part.Body, bodyCap, m.Truncated)
		case ct == "" && len(path) == 0 && params == nil && m.Text == "":
			m.Text, m.Truncated = readCapped(part.Body, bodyCap, m.Truncated)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrNotMail, err)
	}
	if m.Forwarded == nil && m.Report == nil {
		m.Forwarded = inlineForward(m.Text)
	}
	if m.Report != nil && m.Report.OriginalMessageID == "" && m.Forwarded != nil {
		m.Report.OriginalMessageID = m.Forwarded.MessageID
	}
	return m, nil
}

// setForwarded keeps the first embedded message's header.
func (m *Message) setForwarded(h message.Header) {
	if m.Forwarded != nil {
		return
	}
	f := &Forwarded{}
	f.From, f.To, f.Cc, f.Subject, f.MessageID = addresses(gomail.Header{Header: h})
	m.Forwarded = f
	if m.Report != nil && m.Report.OriginalMessageID == "" {
		m.Report.OriginalMessageID = f.MessageID
	}
}

// addresses reads the address fields, subject and Message-ID of h, skipping what does not parse.
func addresses(h gomail.Header) (from *gomail.Address, to, cc []*gomail.Address, subject, id string) {
	if l, err := h.AddressList("From"); err == nil && len(l) > 0 {
		from = l[0]
	}
	to, _ = h.AddressList("To")
	cc, _ = h.AddressList("Cc")
	subject, err := h.Subject()
	if err != nil {
		subject = h.Get("Subject")
	}
	id, _ = h.MessageID()
	return from, to, cc, subject, id
}

// firstText is the first text/plain part of e.
func firstText(e *message.Entity, bodyCap int) (string, bool, error) {
	var text string
	var cut bool
	err := walk(e, func(_ []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		if ct, _, _ := part.Header.ContentType(); (ct == "text/plain" || ct == "") && text == "" {
			text, cut = readCapped(part.Body, bodyCap, false)
		}
		return nil
	})
	return text, cut, err
}

// Bounds of the MIME structure read. go-message reads a part's header whole, each field
// costing some hundred bytes of memory whatever its length ("A:" and a line break is one),
// and reads a part nested n deep through n multipart readers, each scanning it for its
// boundary: a 5 MiB header of empty fields took 600 MiB, 20,000 nested parts in 1 MB took
// minutes of CPU. Parse needs the first text and HTML, a report and a forward; these bounds
// are far beyond what mail programs write.
const (
	// maxDepth is how deep multiparts are read; parts nested deeper are skipped.
	maxDepth = 16
	// maxParts is how many parts are read; the rest are skipped.
	maxParts = 1000
	// maxPartHeader bounds what is read for one part's header (with the boundary line and
	// preamble before it): a part with a longer one fails the message.
	maxPartHeader = 64 << 10
	// maxHeaderFields is how many fields a message's header (or an embedded message's) may
	// have: go-message reads up to 1 MB of it, 120 MiB as empty fields.
	maxHeaderFields = 1000
)

// errHeaderFields fails a message with a header of more than maxHeaderFields fields.
var errHeaderFields = fmt.Errorf("the header has more than %d fields", maxHeaderFields)

// fieldCap reads a message and fails when its header (up to the first empty line) has more
// than maxHeaderFields fields, before they are read.
type fieldCap struct {
	r       io.Reader
	fields  int
	body    bool // the header has ended
	midLine bool
}

func (f *fieldCap) Read(p []byte) (int, error) {
	if f.fields > maxHeaderFields {
		return 0, errHeaderFields // and on every later read
	}
	n, err := f.r.Read(p)
	for i := 0; i < n && !f.body; i++ {
		b := p[i]
		if !f.midLine {
			switch b {
			case '\r', '\n':
				f.body = true
				continue
			case ' ', '\t':
			default:
				if f.fields++; f.fields > maxHeaderFields {
					return 0, errHeaderFields
				}
			}
		}
		f.midLine = b != '\n'
	}
	return n, err
}

// errPartHeader fails a message with a part header over maxPartHeader.
var errPartHeader = fmt.Errorf("a MIME part's header is over %d KiB", maxPartHeader>>10)

// errStopWalk ends walk early without an error.
var errStopWalk = errors.New("inbox: enough parts read")

// walkFunc is called by walk for each part, as by [message.Entity.Walk].
type walkFunc func(path []int, part *message.Entity, err error) error

// walk is [message.Entity.Walk] within the bounds above: multiparts nested deeper than
// maxDepth are not read, parts after the maxParts-th are not read, and each part's header is
// read from at most maxPartHeader bytes.
func walk(e *message.Entity, fn walkFunc) error {
	parts := 0
	if err := walkPart(e, nil, nil, &parts, fn); err != nil && !errors.Is(err, errStopWalk) {
		return err
	}
	return nil
}

func walkPart(e *message.Entity, path []int, perr error, parts *int, fn walkFunc) error {
	if *parts++; *parts > maxParts {
		return errStopWalk
	}
	if err := fn(path, e, perr); err != nil {
		return err
	}
	ct, params, _ := e.Header.ContentType()
	if !strings.HasPrefix(ct, "multipart/") || len(path) >= maxDepth {
		return nil
	}
	g := &headerGuard{r: e.Body}
	mr := textproto.NewMultipartReader(g, params["boundary"])
	for i := 0; ; i++ {
		g.left = maxPartHeader
		p, err := mr.NextPart()
		g.left = -1
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		child, cerr := message.New(message.Header{Header: p.Header}, p)
		if err := walkPart(child, append(path[:len(path):len(path)], i), cerr, parts, fn); err != nil {
			return err
		}
		// The rest of the part is skipped raw, outside the header's budget.
		_, _ = io.Copy(io.Discard, p)
	}
}

// headerGuard reads a multipart body and fails once more than left bytes are read while
// left is not negative (while the multipart reader looks for the next part and reads its
// header).
type headerGuard struct {
	r    io.Reader
	left int
}

func (g *headerGuard) Read(p []byte) (int, error) {
	if g.left < 0 {
		return g.r.Read(p)
	}
	if g.left == 0 {
		return 0, errPartHeader
	}
	if len(p) > g.left {
		p = p[:g.left]
	}
	n, err := g.r.Read(p)
	g.left -= n
	return n, err
}

// readCapped reads at most bodyCap bytes of r and says whether there was more.
func readCapped(r io.Reader, bodyCap int, cut bool) (string, bool) {
	b, _ := io.ReadAll(io.LimitReader(r, int64(bodyCap)+1))
	if len(b) > bodyCap {
		b = b[:bodyCap]
		// Do not end in the middle of a UTF-8 sequence.
		for len(b) > 0 && b[len(b)-1]&0xC0 == 0x80 {
			b = b[:len(b)-1]
		}
		if len(b) > 0 && b[len(b)-1] >= 0xC0 {
			b = b[:len(b)-1]
		}
		cut = true
	}
	text := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(text) > bodyCap {
		// A replacement (3 bytes) for a stray byte can take the text past the cap: cut it
		// back, at the start of a rune.
		n := bodyCap
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text, cut = text[:n], true
	}
	return text, cut
}

// readReport reads a message/delivery-status body (RFC 3464 §2.1): a block of per-message
// fields, then one block of per-recipient fields per recipient, each a header block read
// with go-message's textproto.
func readReport(r io.Reader) (*Report, error) {
	br := bufio.NewReader(io.LimitReader(r, maxReport))
	skipBlank(br)
	msgFields, err := textproto.ReadHeader(br)
	if err != nil && msgFields.Len() == 0 {
		return nil, fmt.Errorf("delivery status: %v", err)
	}
	rep := &Report{ReportingMTA: typedValue(msgFields.Get("Reporting-Mta"))}
	for i := 0; i < 1000; i++ {
		skipBlank(br)
		if _, err := br.Peek(1); err != nil {
			break
		}
		f, err := textproto.ReadHeader(br)
		if f.Len() > 0 {
			addr := typedValue(f.Get("Final-Recipient"))
			if addr == "" {
				addr = typedValue(f.Get("Original-Recipient"))
			}
			addr = strings.ToLower(strings.Trim(addr, "<> "))
			if addr != "" {
				rep.Recipients = append(rep.Recipients, Recipient{
					Address:    addr,
					Action:     strings.ToLower(firstWord(f.Get("Action"))),
					Status:     firstWord(f.Get("Status")),
					Diagnostic: typedValue(f.Get("Diagnostic-Code")),
				})
			}
		}
		if err != nil {
			break
		}
	}
	if len(rep.Recipients) == 0 {
		return nil, fmt.Errorf("delivery status: no per-recipient fields with a Final-Recipient")
	}
	return rep, nil
}

// skipBlank consumes blank lines between the blocks of a delivery status.
func skipBlank(br *bufio.Reader) {
	for {
		b, err := br.Peek(1)
		if err != nil || (b[0] != '\r' && b[0] != '\n') {
			return
		}
		_, _ = br.ReadByte()
	}
}

// typedValue is the value of an RFC 3464 "address-type; value" field ("rfc822;
// ada@example.com" → "ada@example.com").
func typedValue(v string) string {
	if _, after, ok := strings.Cut(v, ";"); ok {
		v = after
	}
	return strings.TrimSpace(v)
}

// firstWord is the first space-separated word of v (a status may carry a comment).
func firstWord(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

// forwardMarkers start the header block of an inline forward in the text of common mail
// programs (Gmail, Apple Mail, Thunderbird, Outlook).
var forwardMarkers = []string{"forwarded message", "begin forwarded message", "original message"}

// inlineForward reads the header block ("From: …", "To: …") after a forward marker line of
// text with go-message's textproto, or returns nil when there is none.
func inlineForward(text string) *Forwarded {
	if len(text) > maxReport {
		text = text[:maxReport]
	}
	rest := text
	for rest != "" {
		line, after, _ := strings.Cut(rest, "\n")
		rest = after
		l := strings.ToLower(strings.Trim(strings.TrimSpace(line), "-:> "))
		found := false
		for _, mk := range forwardMarkers {
			if l == mk || strings.HasSuffix(l, mk) && len(l) < 60 {
				found = true
			}
		}
		if !found {
			continue
		}
		br := bufio.NewReader(&fieldCap{r: strings.NewReader(strings.TrimLeft(rest, "\r\n "))})
		h, _ := textproto.ReadHeader(br)
		if h.Len() == 0 {
			return nil
		}
		f := &Forwarded{}
		f.From, f.To, f.Cc, f.Subject, f.MessageID = addresses(gomail.Header{Header: message.Header{Header: h}})
		if f.From == nil {
			return nil
		}
		return f
	}
	return nil
}
