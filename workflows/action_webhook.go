package workflows

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relata/relata/workflows/condition"
)

func init() {
	registerAction("webhook", func() Action { return new(webhook) })
}

// Webhook limits.
const (
	webhookDefaultTimeout = 10 * time.Second
	webhookMaxTimeout     = 30 * time.Second
	webhookOutputBody     = 2 << 10 // bytes of the answer kept in the step's output
)

// webhook sends the triggering record to another system: one JSON request per run, signed
// when the definition names a secret of the secret store ([schemas.SetSecret]; `relata
// secret set NAME`). The definition holds only the secret's name: every manager can read
// definitions, so a secret written in one is refused at save.
//
//	{"type": "webhook", "url": "https://hooks.example.com/relata", "secret": {"ref": "crm-hook"},
//	 "headers": {"Authorization": "Bearer abc"}, "body": {"deal": "=record.name"}, "timeout": "5s"}
//
// The request:
//
//	POST https://hooks.example.com/relata
//	Content-Type: application/json
//	User-Agent: Relata-Webhook
//	Idempotency-Key: <run id>:<step path>   the same for every attempt of this step
//	X-Relata-Timestamp: 1795424400          unix seconds of this attempt
//	X-Relata-Signature: sha256=<hex>        only with a secret
//	Authorization: Bearer abc               the definition's headers
//
//	{"workflow": "big-deals", "run": "<run id>", "event": "create", "object": "deals",
//	 "record": {<the record's values when the trigger fired>},
//	 "data": {<the evaluated body; present only when the definition has one>}}
//
// Body values are literals or "=expressions", in nested objects and lists too. The signature
// is the hex HMAC-SHA256, keyed with the secret, of the timestamp, a dot and the raw request
// body: a receiver recomputes hmac_sha256(secret, X-Relata-Timestamp + "." + body), compares
// it in constant time with the header after "sha256=", refuses timestamps far from its
// clock (5 minutes, say) against replays, and drops repeated Idempotency-Keys: a retry after
// a timeout or a crash sends the same key (with a new timestamp and signature).
//
// A 2xx answer succeeds; 408, 429, 5xx, network errors and timeouts are retried with the
// engine's backoff; any other answer, and an untrusted TLS certificate, fails the run at once.
// Redirects are not followed.
// Webhooks never reach loopback, private, link-local, CGNAT, multicast or unspecified
// addresses, whatever a host name resolves to, unless [Config.WebhookAllow] lists them.
type webhook struct {
	// URL is a literal http or https URL.
	URL string `json:"url"`
	// Method is POST (the default), PUT or PATCH.
	Method string `json:"method"`
	// Headers are sent as they are written. Content-Type, User-Agent, Idempotency-Key and
	// X-Relata-* are Relata's own.
	Headers map[string]string `json:"headers"`
	// Body is sent as "data".
	Body map[string]any `json:"body"`
	// Secret, when set, names the stored secret that signs each request (X-Relata-Signature).
	Secret *SecretRef `json:"secret"`
	// Timeout bounds one attempt ("500ms", "10s"), up to 30s. Default: 10s.
	Timeout string `json:"timeout"`

	url      *url.URL
	body     any // compiled Body: *Value leaves in maps and slices
	timeout  time.Duration
	workflow string // the name compiled under, for dry runs
}

var _ External = (*webhook)(nil)

// webhookReserved are headers the definition may not set.
var webhookReserved = []string{"Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding",
	"Connection", "Host", "User-Agent", "Idempotency-Key", "Te", "Trailer", "Upgrade"}

func (a *webhook) Prepare(p *Prep) {
	a.workflow = p.file
	switch u, err := url.Parse(a.URL); {
	case strings.HasPrefix(a.URL, "="):
		p.Errorf("/url", "must be a literal URL; expressions are not allowed here")
	case err != nil:
		p.Errorf("/url", "not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		p.Errorf("/url", "must start with https:// or http://")
	case u.Hostname() == "":
		p.Errorf("/url", "has no host")
	case oddIPv4(u.Hostname()) != nil:
		p.Errorf("/url", "%v", oddIPv4(u.Hostname()))
	default:
		a.url = u
	}
	if a.Method == "" {
		a.Method = http.MethodPost
	}
	if a.Method != http.MethodPost && a.Method != http.MethodPut && a.Method != http.MethodPatch {
		p.Errorf("/method", "must be POST, PUT or PATCH")
	}
	for _, name := range slices.Sorted(maps.Keys(a.Headers)) {
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !validHeaderName(name):
			p.Errorf("/headers/"+pointerEscape(name), "%q is not a valid header name", name)
		case slices.Contains(webhookReserved, canon) || strings.HasPrefix(canon, "X-Relata-"):
			p.Errorf("/headers/"+pointerEscape(name), "%s is set by Relata", canon)
		case !validHeaderValue(a.Headers[name]):
			p.Errorf("/headers/"+pointerEscape(name), "the value has control characters")
		}
	}
	if a.Body != nil {
		a.body = compileTemplate(p, "/body", a.Body)
	}
	a.Secret.prepare(p, "/secret")
	a.timeout = webhookDefaultTimeout
	if a.Timeout != "" {
		d, err := time.ParseDuration(a.Timeout)
		if err != nil || d <= 0 || d > webhookMaxTimeout {
			p.Errorf("/timeout", "must be a duration up to 30s, such as 500ms or 10s")
		}
		a.timeout = d
	}
}

// webhookPayload is the JSON body of a webhook request.
type webhookPayload struct {
	Workflow string         `json:"workflow"`
	Run      string         `json:"run"`
	Event    string         `json:"event"`
	Object   string         `json:"object"`
	Record   map[string]any `json:"record"`
	Data     any            `json:"data,omitempty"`
}

func (a *webhook) payload(rc *RunContext) (*webhookPayload, error) {
	record, err := a.record(rc)
	if err != nil {
		return nil, err
	}
	pl := &webhookPayload{Workflow: a.workflow, Event: rc.Input.Event, Record: record}
	if rc.Run != nil {
		pl.Workflow, pl.Run = rc.Run.GetString("workflow_name"), rc.Run.Id
	}
	if rc.Object != nil {
		pl.Object = rc.Object.Name
	}
	if a.body != nil {
		data, err := evalTemplate(rc.Input, a.body)
		if err != nil {
			return nil, Permanent(fmt.Errorf("body%w", err))
		}
		pl.Data = data
	}
	return pl, nil
}

// record is the triggering record as the webhook sends it: the run's snapshot (without
// hidden fields), and with a runAs only if the run-as user may view the record — as every
// other action reads for her; a record deleted since is sent as its id alone, as she cannot
// be asked whether she could have viewed it.
func (a *webhook) record(rc *RunContext) (map[string]any, error) {
	if rc.Input.Record == nil {
		return nil, nil
	}
	// A run queued before hidden fields were left out of snapshots carries them still.
	rec := plainMap(rc.Input.Record)
	if rc.Object != nil {
		if coll, err := rc.App.FindCachedCollectionByNameOrId(rc.Object.Name); err == nil {
			for _, f := range coll.Fields {
				if f.GetHidden() {
					delete(rec, f.GetName())
				}
			}
		}
	}
	if rc.Actor == nil || rc.Object == nil {
		return rec, nil
	}
	id, _ := rec["id"].(string)
	stored, err := rc.App.FindRecordById(rc.Object.Name, id)
	if err != nil {
		return map[string]any{"id": id}, nil
	}
	if ok, err := rc.CanView(stored); err != nil {
		return nil, err
	} else if !ok {
		return nil, Permanent(fmt.Errorf("webhook: %s is not allowed to view %s %s", rc.actorName(), rc.Object.Name, id))
	}
	return rec, nil
}

// headers returns the request's headers; the signature is left out when secret is "".
func (a *webhook) headers(rc *RunContext, body []byte, secret string) http.Header {
	h := http.Header{}
	for k, v := range a.Headers {
		h.Set(k, v)
	}
	ts := strconv.FormatInt(rc.Engine.cfg.Now().Unix(), 10)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Relata-Webhook")
	h.Set("Idempotency-Key", rc.StepKey)
	h.Set("X-Relata-Timestamp", ts)
	if secret != "" {
		h.Set("X-Relata-Signature", sign(secret, ts, body))
	}
	return h
}

// sign returns the X-Relata-Signature of a webhook request: "sha256=" and the hex
// HMAC-SHA256, keyed with the secret, of the X-Relata-Timestamp value, a dot and the body.
func sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (a *webhook) Run(rc *RunContext) (any, error) {
	c := rc.Engine.webhooks
	if c == nil {
		return nil, Permanent(errors.New("webhooks are not set up on this engine"))
	}
	pl, err := a.payload(rc)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(pl)
	if err != nil {
		return nil, Permanent(fmt.Errorf("encode the webhook body: %w", err))
	}
	parent := rc.Ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, a.Method, a.url.String(), bytes.NewReader(body))
	if err != nil {
		return nil, Permanent(fmt.Errorf("webhook %s: %w", a.url.Redacted(), err))
	}
	secret, err := a.Secret.value(rc.Engine.app)
	if err != nil {
		return nil, Permanent(fmt.Errorf("webhook: %w", err))
	}
	req.Header = a.headers(rc, body, secret)
	what := a.Method + " " + a.url.Redacted()
	res, err := c.http.Do(req)
	if err != nil {
		return nil, a.callError(what, err)
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, webhookOutputBody))
	text := validPrefix(snippet)
	switch code := res.StatusCode; {
	case code >= 200 && code < 300:
		return map[string]any{"status": code, "body": text}, nil
	case code >= 300 && code < 400:
		return nil, Permanent(fmt.Errorf("webhook %s answered %s (to %q); redirects are not followed: use the final URL",
			what, res.Status, res.Header.Get("Location")))
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return nil, fmt.Errorf("webhook %s answered %s%s", what, res.Status, quoteBody(text))
	default:
		return nil, Permanent(fmt.Errorf("webhook %s answered %s%s", what, res.Status, quoteBody(text)))
	}
}

// callError classifies an error of a request that got no answer.
func (a *webhook) callError(what string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var refused *refusedError
	var ne net.Error
	var cert *tls.CertificateVerificationError
	switch {
	case errors.As(err, &refused):
		return Permanent(fmt.Errorf("webhook %s %w", what, err))
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("webhook %s timed out after %s", what, a.timeout)
	case errors.As(err, &cert):
		return Permanent(fmt.Errorf("webhook %s: %w", what, err))
	}
	return fmt.Errorf("webhook %s: %w", what, err)
}

// Describe tells what Run would send, without sending it. The signature is not computed and
// credentials in headers are hidden.
func (a *webhook) Describe(rc *RunContext) (any, error) {
	pl, err := a.payload(rc)
	if err != nil {
		return nil, err
	}
	if c := rc.Engine.webhooks; c != nil {
		if err := c.precheck(a.url.Hostname()); err != nil {
			return nil, Permanent(fmt.Errorf("webhook %s %s %w", a.Method, a.url.Redacted(), err))
		}
	}
	h := a.headers(rc, nil, "")
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
		if h.Get(k) != "" {
			h.Set(k, "(hidden)")
		}
	}
	if a.Secret != nil {
		h.Set("X-Relata-Signature", "sha256=(computed with the stored secret "+a.Secret.Ref+" when sent)")
	}
	headers := make(map[string]string, len(h))
	for k := range h {
		headers[k] = h.Get(k)
	}
	return map[string]any{
		"method":  a.Method,
		"url":     a.url.Redacted(),
		"headers": headers,
		"payload": pl,
		"timeout": a.timeout.String(),
		"note":    "a real run sends this request; the dry run does not",
	}, nil
}

// compileTemplate compiles a JSON value whose strings may be "=expressions".
func compileTemplate(p *Prep, ptr string, raw any) any {
	switch x := raw.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = compileTemplate(p, ptr+"/"+pointerEscape(k), v)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = compileTemplate(p, ptr+"/"+strconv.Itoa(i), v)
		}
		return out
	}
	return p.Value(ptr, raw, nil)
}

// evalTemplate evaluates a compiled template; errors start with the pointer of the value.
func evalTemplate(in condition.Input, t any) (any, error) {
	switch x := t.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			r, err := evalTemplate(in, v)
			if err != nil {
				return nil, fmt.Errorf("/%s%w", pointerEscape(k), err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			r, err := evalTemplate(in, v)
			if err != nil {
				return nil, fmt.Errorf("/%d%w", i, err)
			}
			out[i] = r
		}
		return out, nil
	case *Value:
		v, err := x.Eval(in)
		if err != nil {
			return nil, fmt.Errorf(": %w", err)
		}
		return v, nil
	}
	return t, nil
}

func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// validHeaderName reports whether s is an HTTP token (RFC 9110, section 5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func validHeaderValue(s string) bool {
	for _, c := range []byte(s) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validPrefix returns b as text without a rune cut at its end.
func validPrefix(b []byte) string {
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(b)
}

func quoteBody(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return ""
	}
	if len(s) > 200 {
		s = validPrefix([]byte(s[:200])) + "…"
	}
	return ": " + s
}
