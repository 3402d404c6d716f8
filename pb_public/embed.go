// Package pbpublic embeds the static files Relata serves at "/": the web app for business
// users and the assets of generated forms. `relata serve --publicDir DIR` serves DIR from
// disk instead, for development.
package pbpublic

import "embed"

// FS holds the built web app.
//
//go:embed index.html
var FS embed.FS
