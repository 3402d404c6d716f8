package scoring

import "embed"

//go:embed rules.schema.json
var files embed.FS
