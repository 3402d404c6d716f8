package outbox

import (
	"html"
	"regexp"
	"strings"
)

var (
	hrefRE   = regexp.MustCompile(`(?is)\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))`)
	altRE    = regexp.MustCompile(`(?is)\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))`)
	spaceRE  = regexp.MustCompile(`[ \t\r\n\f\v]+`)
	blankRE  = regexp.MustCompile(`\n{3,}`)
	spacesRE = regexp.MustCompile(` {2,}`)
)

// HTMLToText derives a plain-text part from an HTML body: tags are dropped, block elements
// become line breaks, list items get a dash, links keep their target ("Read more
// (https://…)"), entities are decoded, and script, style and head content is left out.
func HTMLToText(s string) string {
	var b strings.Builder
	var links []string // href of each open <a>, "" when it has none
	var linkText []int // where each open <a>'s text started in b
	skip := ""         // the element whose content is being skipped
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			i = len(s)
		}
		if skip == "" {
			writeText(&b, s[:i])
		}
		s = s[i:]
		if s == "" {
			break
		}
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s, "-->")
			if end < 0 {
				break
			}
			s = s[end+3:]
			continue
		}
		end := tagEnd(s)
		if end < 0 { // a lone "<": text
			if skip == "" {
				b.WriteString("<")
			}
			s = s[1:]
			continue
		}
		tag := s[1:end]
		s = s[end+1:]
		closing := strings.HasPrefix(tag, "/")
		name := strings.ToLower(strings.TrimLeft(tag, "/"))
		if j := strings.IndexAny(name, " \t\r\n/"); j >= 0 {
			name = name[:j]
		}
		if skip != "" {
			if closing && name == skip {
				skip = ""
			}
			continue
		}
		switch name {
		case "script", "style", "head", "title", "template":
			if !closing && !strings.HasSuffix(tag, "/") {
				skip = name
			}
		case "br":
			b.WriteString("\n")
		case "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "section",
			"article", "header", "footer", "pre", "address", "dl":
			b.WriteString("\n\n")
		case "tr", "dt", "dd":
			b.WriteString("\n")
		case "td", "th":
			if closing {
				b.WriteString(" ")
			}
		case "li":
			if !closing {
				b.WriteString("\n- ")
			}
		case "hr":
			b.WriteString("\n\n----\n\n")
		case "img":
			if alt := attr(altRE, tag); alt != "" {
				b.WriteString(alt)
			}
		case "a":
			if !closing {
				links = append(links, attr(hrefRE, tag))
				linkText = append(linkText, b.Len())
				continue
			}
			if len(links) == 0 {
				continue
			}
			href, start := links[len(links)-1], linkText[len(linkText)-1]
			links, linkText = links[:len(links)-1], linkText[:len(linkText)-1]
			text := strings.TrimSpace(b.String()[start:])
			if href != "" && !strings.HasPrefix(href, "#") && href != text && "mailto:"+text != href {
				if text == "" {
					b.WriteString(href)
				} else {
					b.WriteString(" (" + href + ")")
				}
			}
		}
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(spacesRE.ReplaceAllString(l, " "))
	}
	out := strings.TrimSpace(blankRE.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
	if out == "" {
		return ""
	}
	return out + "\n"
}

// writeText writes HTML text with entities decoded and white space collapsed.
func writeText(b *strings.Builder, s string) {
	if s == "" {
		return
	}
	b.WriteString(spaceRE.ReplaceAllString(html.UnescapeString(s), " "))
}

// tagEnd returns the index of the ">" that closes the tag starting at s[0], skipping quoted
// attribute values, or -1 when s does not start a tag.
func tagEnd(s string) int {
	if len(s) < 2 || !(s[1] == '/' || s[1] == '!' || s[1] >= 'a' && s[1] <= 'z' || s[1] >= 'A' && s[1] <= 'Z') {
		return -1
	}
	var quote byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -1
}

func attr(re *regexp.Regexp, tag string) string {
	m := re.FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1] + m[2] + m[3])
}
