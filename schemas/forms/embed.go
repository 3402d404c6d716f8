package forms

import "embed"

// files holds the form schema and the page templates, styles and scripts.
//
//go:embed form.schema.json templates/*
var files embed.FS
