package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows"
)

// demoDir is the example configuration "serve --demo" loads.
const demoDir = "examples/sales"

// isLoopback reports whether a listen address ("127.0.0.1:8090", "[::1]:80",
// "localhost:8090") accepts connections from this machine only. ":8090", "0.0.0.0:8090"
// and any other host name are public.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// checkExposure refuses to serve published demo credentials beyond this machine: "--demo"
// on a non-loopback address, or any account seeded in demo mode whose demo password still
// opens it.
func checkExposure(app core.App, addr string, demo bool) error {
	if isLoopback(addr) {
		return nil
	}
	if demo {
		return fmt.Errorf("refusing to serve on %s: --demo creates accounts with published passwords (relata-demo-1) "+
			"and only runs on a loopback address such as --http 127.0.0.1:8090", addr)
	}
	accounts, err := demoAccounts(app)
	if err != nil {
		return fmt.Errorf("check for demo accounts: %w", err)
	}
	if len(accounts) > 0 {
		return fmt.Errorf("refusing to serve on %s: %d accounts still have their published demo password (%s); "+
			"delete them or change their passwords (serve on 127.0.0.1 and use the dashboard at /_/), then serve publicly",
			addr, len(accounts), strings.Join(accounts, ", "))
	}
	return nil
}

// demoAccounts lists the users created in demo mode whose demo password still opens them:
// those of schemas.DemoAccounts (found by their seeded email) and any user whose password hash
// is still one the seed ledger recorded — an account whose email was changed since keeps its
// published password, and schemas.DemoAccounts, looking it up by its old email, misses it.
func demoAccounts(app core.App) ([]string, error) {
	accounts, err := schemas.DemoAccounts(app)
	if err != nil || !hasCollection(app, schemas.SeededCollection) {
		return accounts, err
	}
	var renamed []string
	err = app.DB().NewQuery("SELECT u.email FROM " + schemas.UsersCollection + " u WHERE u." + core.FieldNamePassword +
		" IN (SELECT demo_hash FROM " + schemas.SeededCollection + " WHERE demo_hash != '')").Column(&renamed)
	if err != nil {
		return nil, fmt.Errorf("read the demo accounts: %w", err)
	}
	for _, e := range renamed {
		if !slices.Contains(accounts, e) {
			accounts = append(accounts, e)
		}
	}
	slices.Sort(accounts)
	return accounts, nil
}

func hasCollection(app core.App, name string) bool {
	_, err := app.FindCachedCollectionByNameOrId(name)
	return err == nil
}

// viaProxyHeaders are the request headers reverse proxies add (nginx, Caddy, Apache,
// Traefik, load balancers) naming the client they forward for.
var viaProxyHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Via"}

// fromThisMachine reports whether r reached the server directly from this machine: it names
// a loopback host (localhost, 127.0.0.1, [::1]) and carries none of the headers a reverse
// proxy adds. A proxy that adds none and sends the upstream's own address as the host is
// not seen.
func fromThisMachine(r *http.Request) bool {
	for _, h := range viaProxyHeaders {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return isLoopback(r.Host)
}

// demoLocalOnly answers 403 to requests that came through a reverse proxy or by another host
// name while accounts with published demo passwords exist: --demo, and data seeded in demo
// mode, listen on a loopback address only (checkExposure), but a proxy on the same machine
// would publish them all the same.
func demoLocalOnly(re *core.RequestEvent) error {
	if fromThisMachine(re.Request) {
		return re.Next()
	}
	return re.ForbiddenError("This Relata has accounts with published demo passwords (demo mode) and answers "+
		"this machine only, not through a proxy or another host name. Change or delete those accounts, then "+
		"restart it (relata doctor lists them).", nil)
}

// demoBanner warns that demo mode is on.
func demoBanner(w io.Writer, addr string) {
	line := strings.Repeat("!", 78)
	fmt.Fprintf(w, "%s\n!! DEMO MODE: example data and accounts with PUBLISHED passwords (relata-demo-1),\n"+
		"!! e.g. alice@example.com and manager@example.com. Serving on %s only.\n"+
		"!! Never use demo mode for real data; see SECURITY.md for the deployment checklist.\n%s\n", line, addr, line)
}

// seedWorkflows imports the workflow definitions of dir that were never seeded before:
// a workflow seeded once is never recreated or overwritten (a manager may have disabled,
// edited or deleted it). It returns how many it created and left alone.
func seedWorkflows(app core.App, eng *workflows.Engine, dir string) (created, kept int, err error) {
	defs, err := eng.LoadDir(os.DirFS(dir))
	if err != nil {
		return 0, 0, fmt.Errorf("example workflows in %s: %w", dir, err)
	}
	err = app.RunInTransaction(func(tx core.App) error {
		for _, d := range defs {
			key := workflows.Collection + "/" + d.Name
			seen, err := schemas.WasSeeded(tx, key)
			if err != nil {
				return err
			}
			if seen {
				kept++
				continue
			}
			if _, err := tx.FindFirstRecordByData(workflows.Collection, "name", d.Name); err == nil {
				kept++ // made by a user, or seeded before the ledger existed
			} else {
				if _, err := eng.Save(tx, d); err != nil {
					return fmt.Errorf("%s: %w", d.Name, err)
				}
				created++
			}
			if err := schemas.MarkSeeded(tx, key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if created > 0 {
		err = eng.Load()
	}
	return created, kept, err
}
