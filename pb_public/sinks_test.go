package pbpublic

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestNoHTMLSinks keeps the web app off the browser's HTML and code sinks: text is rendered
// as text by Preact, rich text through app/richtext.js, and the CSP (cmd/relata/headers.go)
// allows no inline script or eval — code that needs them would break or open a hole.
func TestNoHTMLSinks(t *testing.T) {
	sinks := regexp.MustCompile(`\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write|dangerouslySetInnerHTML|\beval\s*\(|new\s+Function\s*\(|setTimeout\s*\(\s*['"\x60]|setInterval\s*\(\s*['"\x60]|createContextualFragment|\.srcdoc\b`)
	err := fs.WalkDir(FS, "app", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		b, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := sinks.FindString(line); m != "" {
				t.Errorf("%s:%d: %s — render text with Preact, rich text with RichText (app/richtext.js)", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestIndexHasNoInlineCode: index.html's only inline script is the import map (allowed by its
// hash); no inline handlers or styles, which the CSP would block.
func TestIndexHasNoInlineCode(t *testing.T) {
	b, err := fs.ReadFile(FS, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, m := range regexp.MustCompile(`(?is)<script\b[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(m, `src=`) && m != `<script type="importmap">` {
			t.Errorf("inline script %s", m)
		}
	}
	for _, re := range []string{`(?i)\son[a-z]+\s*=`, `(?i)\sstyle\s*=`, `(?i)<style\b`, `(?i)javascript:`} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("index.html holds %q", m)
		}
	}
}
