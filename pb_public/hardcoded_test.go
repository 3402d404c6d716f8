package pbpublic

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// The web app's visible text comes from the catalogues. hardCoded finds English written into
// the markup instead: words in the text of html`…` templates (outside ${…} and <code>), in
// the title, placeholder, aria-label and alt attributes, capitalised string literals inside a
// template's ${…} (the "Turn on" of a ternary), and literal messages given to confirm(),
// prompt(), alert(), toast() and setError(). It is a scan, not a JavaScript parser: strings,
// template literals and nested html`…` are followed; comments inside ${…} are skipped.

// textPiece is a piece of template text or a literal, with the line it starts on.
type textPiece struct {
	line int
	text string
	lit  bool // a string literal inside ${…}
}

type templateScanner struct {
	src    string
	i      int
	pieces []textPiece
}

func (s *templateScanner) line(at int) int { return strings.Count(s.src[:at], "\n") + 1 }

// template scans a template literal whose opening backtick is at s.i-1; collect says whether
// its text is markup (an html`…` template) to report.
func (s *templateScanner) template(collect bool) {
	var b strings.Builder
	start := s.i
	flush := func() {
		if collect {
			s.pieces = append(s.pieces, textPiece{line: s.line(start), text: b.String()})
		}
		b.Reset()
	}
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == '\\':
			b.WriteString(s.src[s.i:min(s.i+2, len(s.src))])
			s.i += 2
		case c == '`':
			s.i++
			flush()
			return
		case c == '$' && s.i+1 < len(s.src) && s.src[s.i+1] == '{':
			s.i += 2
			b.WriteString("\x00") // an expression: a value, not text
			s.expression(collect)
		default:
			b.WriteByte(c)
			s.i++
		}
	}
	flush()
}

// expression scans a ${…} up to its closing brace.
func (s *templateScanner) expression(inMarkup bool) {
	depth := 0
	begin := s.i
	defer func() {
		// ${'some text'}: a literal that is the whole expression is text of the markup.
		e := strings.TrimSpace(s.src[begin:max(begin, s.i-1)])
		if inMarkup && len(e) > 2 && (e[0] == '\'' || e[0] == '"') && e[len(e)-1] == e[0] && !strings.ContainsRune(e[1:len(e)-1], rune(e[0])) && word.MatchString(e) {
			s.pieces = append(s.pieces, textPiece{line: s.line(begin), text: e})
		}
	}()
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == '{':
			depth++
			s.i++
		case c == '}':
			s.i++
			if depth == 0 {
				return
			}
			depth--
		case c == '\'' || c == '"':
			start := s.i
			s.i++
			for s.i < len(s.src) && s.src[s.i] != c && s.src[s.i] != '\n' {
				if s.src[s.i] == '\\' {
					s.i++
				}
				s.i++
			}
			s.i++
			before := strings.TrimRight(s.src[max(0, start-12):start], " ")
			compared := strings.HasSuffix(before, "==") || strings.HasSuffix(before, "With(") || strings.HasSuffix(before, "includes(")
			if inMarkup && s.i-1 > start && !compared {
				s.pieces = append(s.pieces, textPiece{line: s.line(start), text: s.src[start+1 : s.i-1], lit: true})
			}
		case c == '`':
			s.i++
			s.template(strings.HasSuffix(s.src[:s.i-1], "html"))
		case c == '/' && s.i+1 < len(s.src) && s.src[s.i+1] == '/':
			for s.i < len(s.src) && s.src[s.i] != '\n' {
				s.i++
			}
		case c == '/' && s.i+1 < len(s.src) && s.src[s.i+1] == '*':
			end := strings.Index(s.src[s.i+2:], "*/")
			if end < 0 {
				s.i = len(s.src)
			} else {
				s.i += end + 4
			}
		default:
			s.i++
		}
	}
}

var (
	word        = regexp.MustCompile(`[A-Za-z]{2,}`)
	codeElement = regexp.MustCompile(`(?s)<code\b[^>]*>.*?</code>`)
	tagPattern  = regexp.MustCompile(`(?s)<(?:[^>"']|"[^"]*"|'[^']*')*>`)
	// An example of a code, path or address ("/customer/email", "shop-signups"): no text.
	codeLike = regexp.MustCompile(`^[\w.@{}=:-]*[/.@{}=:_-][\w./@{}=:-]*$`)
	// An example of a filter or an expression ("status = 'open'", "replied() || x").
	codeExpr = regexp.MustCompile(`\s(=|==|!=|&&|\|\|)\s|\w\(\)`)
	textAttr = regexp.MustCompile(`\b(title|placeholder|aria-label|alt)="([^"\x00]*)"`)
	// A capitalised literal of words ("Turn on", "Copied"), not an identifier or a code.
	prose = regexp.MustCompile(`^[A-Z][a-z]+(\b|[ ,.…!?'’:]).*[a-z.…!?]$|^[A-Z][a-z]{2,}$`)
	// Literal messages given to functions that show them.
	shownLiteral = regexp.MustCompile(`\b(confirm|prompt|alert|toast|setError|setMessage|setNote)\(\s*['"` + "`" + `]\s*[A-Za-z]`)
)

// allCodeLike: a list of examples ("ada@example.com, alan@example.com").
func allCodeLike(s string) bool {
	if codeExpr.MatchString(s) {
		return true
	}
	for _, part := range strings.Split(s, ", ") {
		if !codeLike.MatchString(part) {
			return false
		}
	}
	return true
}

// untranslated are texts that are the same in every language.
var untranslated = map[string]bool{"Relata": true, "CSV": true, "XLSX": true, "JSON": true, "URL": true}

// hardCoded lists "line: text" for every piece of English written into the source of one file.
func hardCoded(src string) []string {
	var found []string
	s := &templateScanner{src: src}
	for {
		k := strings.Index(s.src[s.i:], "html`")
		if k < 0 {
			break
		}
		s.i += k + len("html`")
		s.template(true)
	}
	for _, p := range s.pieces {
		if p.lit {
			if prose.MatchString(p.text) {
				found = append(found, fmt.Sprintf("%d: '%s'", p.line, p.text))
			}
			continue
		}
		text := codeElement.ReplaceAllString(p.text, "")
		for _, m := range textAttr.FindAllStringSubmatch(text, -1) {
			if word.MatchString(m[2]) && !allCodeLike(m[2]) {
				found = append(found, fmt.Sprintf("%d: %s=%q", p.line, m[1], m[2]))
			}
		}
		for _, seg := range strings.Split(tagPattern.ReplaceAllString(text, "\x00"), "\x00") {
			seg = strings.Join(strings.Fields(seg), " ")
			seg = regexp.MustCompile(`&\w+;`).ReplaceAllString(seg, "")
			if word.MatchString(seg) && !untranslated[seg] && !allCodeLike(seg) {
				found = append(found, fmt.Sprintf("%d: %q", p.line, seg))
			}
		}
	}
	for i, line := range strings.Split(src, "\n") {
		if m := shownLiteral.FindString(line); m != "" {
			found = append(found, fmt.Sprintf("%d: %s…", i+1, strings.TrimSpace(line)))
		}
	}
	return found
}

// TestNoHardCodedText: no English is written into the web app's markup; every visible text
// goes through t() so that it is in every language.
func TestNoHardCodedText(t *testing.T) {
	files := 0
	err := fs.WalkDir(FS, "app", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".js") || strings.HasPrefix(path, "app/i18n/") {
			return err
		}
		b, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		files++
		for _, f := range hardCoded(string(b)) {
			t.Errorf("%s:%s", path, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("only %d files scanned", files)
	}
}

// TestHardCodedScan: the scan finds English where it hides and passes translated markup.
func TestHardCodedScan(t *testing.T) {
	bad := map[string]string{
		"text":      "html`<h1>Incoming webhooks</h1>`",
		"nested":    "html`<div>${ok ? html`<p>Done</p>` : null}</div>`",
		"attribute": "html`<input placeholder=\"Search records\" />`",
		"ternary":   "html`<button>${on ? 'Turn off' : 'Turn on'}</button>`",
		"confirm":   "if (!confirm('Delete this segment?')) return;",
		"toast":     "toast(`Copied ${n} rows`);",
		"after":     "html`<b>${t('a.b')}</b> never`",
		"literal":   "html`<p><b>${a}</b>${' was merged into '}${b}</p>`",
	}
	for name, src := range bad {
		if len(hardCoded(src)) == 0 {
			t.Errorf("%s: %s passed", name, src)
		}
	}
	good := []string{
		"html`<h1>${t('webhooks.title')}</h1><code>/api/relata/hooks</code>`",
		"html`<input placeholder=${t('x.y')} class=\"big\" />`",
		"html`<div class=${open ? 'menu open' : 'menu'}>${items.map((i) => html`<a href=${'#/x/' + i}>${i.name}</a>`)}</div>`",
		"html`<span>— · ×</span>${x ? 'pill' : ''}`",
		"const s = `Plain ${text} not markup`;",
		"html`<p>${a /* A comment's quote */} ${b}</p>`",
		"html`<p>${e.key === 'Escape' ? 1 : 2} ${a.endsWith('Tags') ? 'x' : ''}</p>`",
		"html`<input placeholder=\"status = 'open'\" /><input placeholder=\"/customer/email\" /><span>/forms/${slug}</span>`",
	}
	for _, src := range good {
		if f := hardCoded(src); len(f) != 0 {
			t.Errorf("%s: %v", src, f)
		}
	}
}
