package schemas

import (
	"embed"
	"io/fs"
)

//go:embed meta/*.json objects/*.json
var files embed.FS

// Defaults returns the built-in CRM object definitions: companies, contacts, deals and activities.
func Defaults() fs.FS {
	sub, err := fs.Sub(files, "objects")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}
