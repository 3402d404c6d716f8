package workflows

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
)

// noDNS returns a resolver that fails t if anything queries DNS through it.
func noDNS(t *testing.T) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(_ context.Context, network, address string) (net.Conn, error) {
		t.Errorf("a DNS query was made (%s %s)", network, address)
		return nil, errors.New("no DNS in this test")
	}}
}

// TestWebhookRefusesOddIPv4WithoutDNS checks finding 9b of issue 10: a webhook URL whose host
// is an IPv4 address in a non-standard form is refused at save and at send time without
// any DNS query, whatever the address it stands for.
func TestWebhookRefusesOddIPv4WithoutDNS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the loopback server got %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	c, err := newWebhookClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.resolver = noDNS(t)
	tests := []struct {
		host string
		want string
	}{
		{"2130706433", "is the IPv4 address 127.0.0.1 written in a non-standard form"},
		{"127.1", "127.0.0.1 written in a non-standard form"},
		{"127.0.1", "127.0.0.1 written in a non-standard form"},
		{"0x7f.1", "127.0.0.1 written in a non-standard form"},
		{"0x7F000001", "127.0.0.1 written in a non-standard form"},
		{"0177.0.0.1", "127.0.0.1 written in a non-standard form"},
		{"127.000.000.001", "127.0.0.1 written in a non-standard form"},
		{"127.0.0.1.", "127.0.0.1 written in a non-standard form"},
		{"017700000001", "127.0.0.1 written in a non-standard form"},
		{"0", "0.0.0.0 written in a non-standard form"},
		{"0x0a.0x0.0.1", "10.0.0.1 written in a non-standard form"},
		{"169.16689662", "169.254.169.254 written in a non-standard form"},
		{"134744072", "8.8.8.8 written in a non-standard form; write it as 8.8.8.8"},
		{"4294967296", "is not a valid IPv4 address"},
		{"1.2.3.4.5", "is not a valid IPv4 address"},
		{"256.1.1.1", "is not a valid IPv4 address"},
		{"08.0.0.1", "is not a valid IPv4 address"},
		{"example.123", "is not a valid IPv4 address"},
		{"a.0x7f", "is not a valid IPv4 address"},
		{"[::ffff:127.0.0.1]", "loopback address"},
		{"[::ffff:7f00:1]", "loopback address"},
		{"[::ffff:a9fe:a9fe]", "link-local address"},
		{"[::127.0.0.1]", "reserved address"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			url := "http://" + tt.host + ":" + port + "/hook"
			// At save: the definition is refused at /url.
			a := &webhook{URL: url}
			var errs schemas.Errors
			a.Prepare(&Prep{file: "w.json", errs: &errs})
			if strings.HasPrefix(tt.host, "[") {
				if err := errs.Err(); err != nil {
					t.Errorf("Prepare(%s) = %v; want IPv6 literals checked at send time only", url, err)
				}
			} else {
				if err := errs.Err(); err == nil || !strings.Contains(err.Error(), "/url") || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Prepare(%s) = %v; want an error at /url containing %q", url, err, tt.want)
				}
			}
			// At send time (a definition stored before this check): refused before dialing.
			res, err := c.http.Get(url)
			if err == nil {
				res.Body.Close()
				t.Fatalf("GET %s succeeded", url)
			}
			var re *refusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("GET %s: %v; want refused with %q", url, err, tt.want)
			}
		})
	}
	// Host names are still resolved (and then checked): only numbers skip DNS.
	for _, host := range []string{"example.com", "1x.example", "a.0x7g"} {
		if err := oddIPv4(host); err != nil {
			t.Errorf("oddIPv4(%q) = %v; want nil for a host name", host, err)
		}
	}
	for _, host := range []string{"127.0.0.1", "8.8.8.8", "::ffff:127.0.0.1", "::1"} {
		if err := oddIPv4(host); err != nil {
			t.Errorf("oddIPv4(%q) = %v; want nil for a canonical address", host, err)
		}
	}
}

func FuzzOddIPv4(f *testing.F) {
	for _, s := range []string{"2130706433", "127.1", "0x7f.1", "0177.0.0.1", "1.2.3.4", "example.com", "0x", "1..1", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		err := oddIPv4(host)
		var re *refusedError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("oddIPv4(%q) = %v, not a refusedError", host, err)
		}
		if err == nil {
			return
		}
		if re.Addr.IsValid() && !re.Addr.Is4() {
			t.Fatalf("oddIPv4(%q) gave a non-IPv4 address %v", host, re.Addr)
		}
	})
}
