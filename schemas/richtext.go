package schemas

import (
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
)

// richTextPolicy is the allow-list of rich text (editor fields): text formatting, headings,
// paragraphs, lists, quotes, code, simple tables and links to http, https and mailto
// addresses (rel="nofollow noopener", opened in a new tab). Everything else goes: scripts,
// styles, event handlers, images, iframes, objects, forms, svg and math, and every other
// attribute (style, class, id, data-*). The text inside a removed element stays, except
// inside script, style, iframe, object and the like, whose content goes too.
var richTextPolicy = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements(
		"p", "br", "hr", "div", "span",
		"b", "strong", "i", "em", "u", "s", "strike", "del", "ins", "mark", "small", "sub", "sup",
		"h1", "h2", "h3", "h4", "h5", "h6",
		"blockquote", "pre", "code",
		"ul", "ol", "li", "dl", "dt", "dd",
		"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
	)
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	p.AllowAttrs("colspan", "rowspan").Matching(bluemonday.Integer).OnElements("td", "th")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(false)
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true) // also adds rel="noopener"
	p.SkipElementsContent("script", "style", "iframe", "object", "noscript", "template",
		"svg", "math", "textarea", "select", "title", "frameset", "noembed", "xmp")
	return p
})

// SanitizeHTML returns s with only the markup rich text may hold (see [richTextPolicy]):
// what survives can be shown to anyone without running code or loading anything. Every
// write of an editor field goes through it (package hooks binds it to record saves); call it
// too where rich text is produced outside a record save (previews, imports' dry runs).
//
// Text without a "<" cannot hold an element and is returned as it is; sanitising is
// idempotent: SanitizeHTML(SanitizeHTML(s)) == SanitizeHTML(s).
func SanitizeHTML(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	// A NUL byte makes the HTML parser replace it; drop it first so the output is stable.
	s = strings.ReplaceAll(s, "\x00", "")
	return richTextPolicy().Sanitize(s)
}
