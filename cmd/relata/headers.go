package main

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// Security headers of Relata's responses (issue 10, finding 1):
//
//   - every response: X-Content-Type-Options: nosniff and
//     Referrer-Policy: strict-origin-when-cross-origin (a handler may set a stricter one);
//   - the web app (the static files at /): a strict Content-Security-Policy
//     — scripts only from Relata's own files (plus the hash of index.html's import map, the one
//     inline script element, which a browser cannot load from a file), no eval, no plugins,
//     no framing, connections and forms to Relata only.
//
// PocketBase's admin UI (/_/) keeps its own CSP, files under /api/files keep PocketBase's
// sandboxing CSP, and form pages (/forms/{slug}) send theirs (package forms: frame-ancestors
// from the form's allowOrigins, so the documented embedding keeps working). Other pages (the
// unsubscribe page of workflows/outbox) get no CSP from here: a policy belongs with the page.

// webAppCSP is the web app's policy; %s is replaced by the import map's hash source.
const webAppCSP = "default-src 'self'; script-src 'self'%s; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; " +
	"form-action 'self'"

var importMapRE = regexp.MustCompile(`(?s)<script type="importmap">(.*?)</script>`)

// appCSP returns the web app's CSP for the index.html of public. The import map is allowed by
// the SHA-256 of its exact text, so editing it needs no change here.
func appCSP(public fs.FS) string {
	hashes := ""
	if b, err := fs.ReadFile(public, "index.html"); err == nil {
		for _, m := range importMapRE.FindAllSubmatch(b, -1) {
			sum := sha256.Sum256(m[1])
			hashes += " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		}
	}
	return strings.Replace(webAppCSP, "%s", hashes, 1)
}

// webAppRoute is the path pattern of the web app's static files (main.go, "relata.main.public").
const webAppRoute = "/{path...}"

// isWebApp reports whether r was routed to the web app's static files. Other pages (form
// pages, the unsubscribe page, the admin UI) send their own policies.
func isWebApp(r *http.Request) bool {
	p := r.Pattern
	if _, path, ok := strings.Cut(p, " "); ok {
		p = path
	}
	return p == webAppRoute
}

// registerHeaders binds the security headers middleware to every route. public is the web
// app's file system; when live (--publicDir) index.html is read again for each page, so an
// edited import map is allowed without a restart.
func registerHeaders(app core.App, public fs.FS, live bool) {
	csp := sync.OnceValue(func() string { return appCSP(public) })
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.main.headers",
		Func: func(se *core.ServeEvent) error {
			se.Router.Bind(&hook.Handler[*core.RequestEvent]{
				Id: "relata.headers",
				Func: func(e *core.RequestEvent) error {
					h := e.Response.Header()
					h.Set("X-Content-Type-Options", "nosniff")
					h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
					if isWebApp(e.Request) {
						if live {
							h.Set("Content-Security-Policy", appCSP(public))
						} else {
							h.Set("Content-Security-Policy", csp())
						}
					}
					return e.Next()
				},
			})
			return se.Next()
		},
	})
}
