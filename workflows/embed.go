package workflows

import "embed"

// files holds the JSON Schema of workflow definitions.
//
//go:embed workflow.schema.json
var files embed.FS
