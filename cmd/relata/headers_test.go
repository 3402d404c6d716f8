package main

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestAppCSP(t *testing.T) {
	importMap := "\n{\"imports\": {\"preact\": \"/vendor/preact/preact.module.js\"}}\n"
	sum := sha256.Sum256([]byte(importMap))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	tests := []struct {
		name, index, wantScript string
	}{
		{"import map allowed by its hash", `<head><script type="importmap">` + importMap + `</script><script type="module" src="/app/main.js"></script>`, "script-src 'self' " + hash + ";"},
		{"no import map", `<head><script type="module" src="/app/main.js"></script>`, "script-src 'self';"},
		{"no index.html", "", "script-src 'self';"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			if tt.index != "" {
				fsys["index.html"] = &fstest.MapFile{Data: []byte(tt.index)}
			}
			csp := appCSP(fsys)
			if !strings.Contains(csp, tt.wantScript) {
				t.Errorf("CSP %q lacks %q", csp, tt.wantScript)
			}
			for _, bad := range []string{"unsafe-inline", "unsafe-eval", "%s"} {
				if strings.Contains(csp, bad) {
					t.Errorf("CSP %q holds %s", csp, bad)
				}
			}
		})
	}
}

func TestIsWebApp(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{"GET /{path...}", true},
		{"/{path...}", true},
		{"GET /forms/{slug}", false},
		{"GET /_/{path...}", false},
		{"GET /api/files/{collection}/{recordId}/{filename}", false},
		{"GET /unsubscribe/{token}", false},
		{"", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.Pattern = tt.pattern
		if got := isWebApp(r); got != tt.want {
			t.Errorf("isWebApp(%q) = %v; want %v", tt.pattern, got, tt.want)
		}
	}
}
