// Package pbpublic embeds the static files Relata serves at "/": the web app for business
// users (index.html, app.css, the ES modules in app/ and the vendored libraries in vendor/,
// each with its license) and the assets of generated forms. `relata serve --publicDir DIR`
// serves DIR from disk instead, for development.
package pbpublic

import "embed"

// FS holds the built web app.
//
//go:embed index.html app.css app vendor
var FS embed.FS
