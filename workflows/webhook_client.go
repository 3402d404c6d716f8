package workflows

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// refusedError is why a webhook was not sent: its host is, or resolves to, an
// address webhooks may not reach (see [Config.WebhookAllow]).
type refusedError struct {
	Host   string     // as written in the URL
	Addr   netip.Addr // invalid for refused host names (localhost)
	Reason string     // "loopback address", "private address", ...
	Odd    bool       // Host is a number, or an IPv4 address in a form other than a.b.c.d
}

func (e *refusedError) Error() string {
	switch {
	case e.Odd && !e.Addr.IsValid():
		return fmt.Sprintf("refused: %s is not a valid IPv4 address (a host whose last label is a number is read as one)", e.Host)
	case e.Odd:
		return fmt.Sprintf("refused: %s is the IPv4 address %s written in a non-standard form; write it as %s", e.Host, e.Addr, e.Addr)
	case !e.Addr.IsValid():
		return fmt.Sprintf("refused: %s is a %s (allow it with WebhookAllow)", e.Host, e.Reason)
	case e.Host == e.Addr.String():
		return fmt.Sprintf("refused: %s is a %s (allow it with WebhookAllow)", e.Addr, e.Reason)
	}
	return fmt.Sprintf("refused: %s resolves to %s, a %s (allow it with WebhookAllow)", e.Host, e.Addr, e.Reason)
}

// refusedRanges are the addresses webhooks may not reach unless allowed, most specific first.
var refusedRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT) address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"}, // and the broadcast address
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("::/96"), "reserved address"}, // IPv4-compatible, deprecated
	{netip.MustParsePrefix("fc00::/7"), "private address"},
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
}

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4 address in their last
// four bytes.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusedReason says why webhooks may not reach ip, or returns "".
func refusedReason(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return "invalid address"
	}
	if nat64.Contains(ip) {
		b := ip.As16()
		if r := refusedReason(netip.AddrFrom4([4]byte(b[12:]))); r != "" {
			return r + " (through NAT64)"
		}
		return ""
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}

// webhookClient makes webhook requests. It checks every address it dials, after name
// resolution, so a host name that resolves (or is rebound) to an internal address is
// refused; it uses no proxy and follows no redirect.
type webhookClient struct {
	http     *http.Client
	dialer   *net.Dialer
	resolver *net.Resolver
	allowNet []netip.Prefix
	allowHst map[string]bool
}

// newWebhookClient builds the engine's webhook client; allow lists host names, IP addresses
// and CIDR ranges that may be reached although they are internal.
func newWebhookClient(allow []string) (*webhookClient, error) {
	c := &webhookClient{
		dialer:   &net.Dialer{KeepAlive: 30 * time.Second},
		resolver: net.DefaultResolver,
		allowHst: map[string]bool{},
	}
	for _, s := range allow {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			c.allowNet = append(c.allowNet, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(s); err == nil {
			ip = ip.WithZone("")
			c.allowNet = append(c.allowNet, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		if s == "" || strings.ContainsAny(s, "/:[]@ \t") {
			return nil, fmt.Errorf("%q is not a host name, IP address or CIDR range", s)
		}
		c.allowHst[normalHost(s)] = true
	}
	c.http = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial addresses this client never sees
			DialContext:           c.dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          20,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// check returns a [refusedError] when host, resolved to ip, may not be reached.
func (c *webhookClient) check(host string, ip netip.Addr) error {
	if c.allowHst[normalHost(host)] {
		return nil
	}
	ip = ip.WithZone("")
	for _, p := range c.allowNet {
		if p.Contains(ip) || p.Contains(ip.Unmap()) {
			return nil
		}
	}
	if r := refusedReason(ip); r != "" {
		return &refusedError{Host: host, Addr: ip, Reason: r}
	}
	return nil
}

// precheck refuses what can be refused without resolving host: internal IP literals,
// IPv4 addresses in any form but a.b.c.d, and localhost names. It never queries DNS.
func (c *webhookClient) precheck(host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		return c.check(host, ip)
	}
	if err := oddIPv4(host); err != nil {
		return err
	}
	if h := normalHost(host); !c.allowHst[h] && (h == "localhost" || strings.HasSuffix(h, ".localhost")) {
		return &refusedError{Host: host, Reason: "loopback host name"}
	}
	return nil
}

// dial resolves addr, checks every address it resolves to, and connects to the first that
// answers. Only checked addresses are dialed: no second lookup can rebind the name.
func (c *webhookClient) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if err := c.precheck(host); err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ipNet := map[string]string{"tcp4": "ip4", "tcp6": "ip6"}[network]
		if ipNet == "" {
			ipNet = "ip"
		}
		if ips, err = c.resolver.LookupNetIP(ctx, ipNet, host); err != nil {
			return nil, err
		}
		for _, ip := range ips {
			if err := c.check(host, ip); err != nil {
				return nil, err
			}
		}
	}
	var errs []error
	for _, ip := range ips {
		conn, err := c.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// oddIPv4 returns a [refusedError] when host is a number or an IPv4 address written in any
// form but four decimal parts: "2130706433", "127.1", "0x7f.1", "0177.0.0.1",
// "127.000.000.001", "127.0.0.1." (the forms inet_aton and browsers accept, RFC 3986 section
// 7.4 and the WHATWG URL standard). A resolver may read such a host as the address it
// stands for, or query DNS with it; either way it is refused before any lookup, whatever the
// address, so no allow-list or DNS answer can be fooled by the spelling.
func oddIPv4(host string) error {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "" || strings.Contains(h, ":") {
		return nil // IPv6 literals are parsed by netip, mapped IPv4 ones checked unmapped
	}
	parts := strings.Split(h, ".")
	if !numericLabel(parts[len(parts)-1]) {
		return nil // a host name: its last label is not a number
	}
	ip, ok := parseIPv4Loose(parts)
	if ok && ip.String() == host {
		return nil // canonical: netip.ParseAddr handles it
	}
	if !ok {
		return &refusedError{Host: host, Odd: true}
	}
	return &refusedError{Host: host, Addr: ip, Reason: refusedReason(ip), Odd: true}
}

// numericLabel reports whether s reads as a number in the WHATWG URL standard's IPv4 parser:
// decimal digits, or 0x followed by hex digits.
func numericLabel(s string) bool {
	if s == "" {
		return false
	}
	if strings.HasPrefix(s, "0x") {
		return strings.Trim(s[2:], "0123456789abcdef") == ""
	}
	return strings.Trim(s, "0123456789") == ""
}

// parseIPv4Loose parses parts the way inet_aton does: one to four numbers, each decimal,
// octal (a leading 0) or hex (0x); the last fills the bytes the others leave.
func parseIPv4Loose(parts []string) (netip.Addr, bool) {
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		n, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v := last
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}
