package pbpublic

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// catalogueScript loads the message catalogues and i18n.js as the browser does (ES modules) and
// prints them with a few translations made by t(), for the Go side to check.
const catalogueScript = `
const { catalogues, t, tx, setLanguage } = await import('./app/i18n.js');
const samples = {};
for (const l of Object.keys(catalogues)) {
  setLanguage(l);
  samples[l] = {
    one: t('tasks.open', { count: 1 }),
    three: t('tasks.open', { count: 3 }),
    thousands: t('tasks.open', { count: 1234 }),
    filled: t('board.moved', { title: 'Acme', stage: 'X' }),
    missing: t('no.such.key'),
    parts: JSON.stringify(tx('board.moved', { title: { b: 'Acme' }, stage: 'X' })),
  };
}
console.log(JSON.stringify({ catalogues, samples }));
`

type catalogueDump struct {
	Catalogues map[string]map[string]any    `json:"catalogues"`
	Samples    map[string]map[string]string `json:"samples"`
}

// loadCatalogues runs node on the embedded app's i18n modules (copied to a directory whose
// package.json makes .js files ES modules).
func loadCatalogues(t *testing.T) catalogueDump {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the catalogues cannot be loaded")
	}
	dir := t.TempDir()
	files := []string{"app/i18n.js"}
	entries, err := fs.ReadDir(FS, "app/i18n")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		files = append(files, "app/i18n/"+e.Name())
	}
	for _, f := range files {
		b, err := fs.ReadFile(FS, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "check.js"), []byte(catalogueScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "check.js")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node check.js: %v\n%s", err, stderr)
	}
	var d catalogueDump
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("node's output: %v\n%s", err, out)
	}
	return d
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

// params lists the {names} in a message (in all its plural forms), sorted and unique.
func params(v any) []string {
	var texts []string
	switch m := v.(type) {
	case string:
		texts = []string{m}
	case map[string]any:
		for _, f := range m {
			s, _ := f.(string)
			texts = append(texts, s)
		}
	}
	var ps []string
	for _, s := range texts {
		for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
			ps = append(ps, m[1])
		}
	}
	sort.Strings(ps)
	return slices.Compact(ps)
}

// TestCataloguesMatch: every language has the same keys as English, no empty message, the same
// {params} as English, and plural messages with an "other" form (and only CLDR form names).
func TestCataloguesMatch(t *testing.T) {
	d := loadCatalogues(t)
	en := d.Catalogues["en"]
	if len(en) < 50 {
		t.Fatalf("the English catalogue has %d messages", len(en))
	}
	if len(d.Catalogues) < 2 {
		t.Fatalf("catalogues: %v", d.Catalogues)
	}
	forms := []string{"zero", "one", "two", "few", "many", "other"}
	for lang, cat := range d.Catalogues {
		file := "app/i18n/" + lang + ".js"
		for key, v := range cat {
			ev, ok := en[key]
			if !ok {
				t.Errorf("%s: %q is not in app/i18n/en.js", file, key)
				continue
			}
			switch m := v.(type) {
			case string:
				if strings.TrimSpace(m) == "" {
					t.Errorf("%s: %q is empty", file, key)
				}
			case map[string]any:
				if _, ok := m["other"]; !ok {
					t.Errorf("%s: %q has plural forms without \"other\"", file, key)
				}
				for f, s := range m {
					if !slices.Contains(forms, f) {
						t.Errorf("%s: %q has the plural form %q (forms: %v)", file, key, f, forms)
					}
					if str, ok := s.(string); !ok || strings.TrimSpace(str) == "" {
						t.Errorf("%s: %q form %q is empty or not text", file, key, f)
					}
				}
			default:
				t.Errorf("%s: %q is %T, not text or plural forms", file, key, v)
			}
			if got, want := params(v), params(ev); !slices.Equal(got, want) {
				t.Errorf("%s: %q has params %v, English has %v", file, key, got, want)
			}
		}
		for key := range en {
			if _, ok := cat[key]; !ok {
				t.Errorf("%s: %q is missing (English: %v)", file, key, en[key])
			}
		}
	}
	// t() itself: plural forms by count, numbers in the language's format, {params} filled,
	// an unknown key shown as itself.
	want := map[string]map[string]string{
		"en": {"one": "1 open", "three": "3 open", "thousands": "1,234 open", "filled": `Moved "Acme" to X`, "missing": "no.such.key", "parts": `["Moved \"",{"b":"Acme"},"\" to ","X"]`},
		"it": {"one": "1 aperta", "three": "3 aperte", "thousands": "1234 aperte", "filled": `"Acme" spostata in X`, "missing": "no.such.key", "parts": `["\"",{"b":"Acme"},"\" spostata in ","X"]`},
	}
	for lang, w := range want {
		for k, v := range w {
			if got := d.Samples[lang][k]; got != v {
				t.Errorf("t() in %s, %s: %q, want %q", lang, k, got, v)
			}
		}
	}
}

// tCall finds t('key'), t('key', …) and tx('key', …) calls with a literal key.
var tCall = regexp.MustCompile(`\btx?\(\s*'([^'\\]+)'\s*[,)]`)

// TestTranslatedKeysExist: every t('key') in the web app's sources is in the English catalogue
// (and so, by TestCataloguesMatch, in every language).
func TestTranslatedKeysExist(t *testing.T) {
	d := loadCatalogues(t)
	en := d.Catalogues["en"]
	used := 0
	err := fs.WalkDir(FS, "app", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".js") || strings.HasPrefix(path, "app/i18n/") {
			return err
		}
		b, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range tCall.FindAllStringSubmatch(line, -1) {
				used++
				if _, ok := en[m[1]]; !ok {
					t.Errorf("%s:%d: t(%q) has no message in app/i18n/en.js and it.js", path, i+1, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if used < 50 {
		t.Errorf("only %d t('…') calls found: is the scan broken?", used)
	}
}
