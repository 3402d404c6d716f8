package inbox_test

import (
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/inbox"
)

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	scenarios := []struct {
		name string
		cfg  inbox.Config
		env  map[string]string
		want string
	}{
		{name: "address without domain", cfg: inbox.Config{Addr: "127.0.0.1:0"}, want: "--inboundDomain"},
		{name: "not a domain", cfg: inbox.Config{Addr: "127.0.0.1:0", Domain: "log@crm.example.com"}, want: "is not a domain name"},
		{name: "certificate without key", cfg: inbox.Config{Domain: "crm.example.com", TLSCert: "cert.pem"}, want: "both a certificate and a key"},
		{name: "missing certificate files", cfg: inbox.Config{Domain: "crm.example.com", TLSCert: "/missing/cert.pem", TLSKey: "/missing/key.pem"}, want: "/missing/cert.pem"},
		{name: "bad size from the environment", cfg: inbox.Config{Domain: "crm.example.com"}, env: map[string]string{"RELATA_INBOUND_MAX_BYTES": "25MB"}, want: "RELATA_INBOUND_MAX_BYTES"},
		{name: "unknown sender check", cfg: inbox.Config{Domain: "crm.example.com", Auth: "spf"}, want: `RELATA_INBOUND_AUTH "spf" is not dkim, results:<authserv-id> or off`},
		{name: "results without an authserv-id", cfg: inbox.Config{Domain: "crm.example.com"}, env: map[string]string{"RELATA_INBOUND_AUTH": "results:"}, want: "the authserv-id of your MX"},
		{name: "authserv-id with a space", cfg: inbox.Config{Domain: "crm.example.com", Auth: "results:mx example"}, want: "the authserv-id of your MX"},
		{name: "domain from the environment", env: map[string]string{"RELATA_INBOUND_ADDR": "127.0.0.1:0", "RELATA_INBOUND_DOMAIN": "CRM.Example.com."}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			cfg := sc.cfg
			cfg.Registry = reg
			cfg.Getenv = func(k string) string { return sc.env[k] }
			in, err := inbox.Register(app, cfg)
			if sc.want == "" {
				if err != nil || in.Domain() != "crm.example.com" {
					t.Fatalf("Register: %v, domain %q; want crm.example.com", err, in.Domain())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), sc.want) {
				t.Errorf("Register: %v; want an error naming %q", err, sc.want)
			}
		})
	}
}
