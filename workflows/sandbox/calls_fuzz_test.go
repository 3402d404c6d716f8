package sandbox_test

import (
	"regexp"
	"testing"
	"unicode/utf16"

	"github.com/relata/relata/workflows/sandbox"
)

// lineTerminators are JavaScript's, by which script positions count lines.
var lineTerminators = regexp.MustCompile("\r\n|[\r\n\u2028\u2029]")

// FuzzCalls feeds scripts to Calls: it never panics, refuses exactly what Compile refuses, and
// every literal it reports lies inside the script at its line and column.
//
//	go test -run '^$' -fuzz '^FuzzCalls$' -fuzztime 1m ./workflows/sandbox/
func FuzzCalls(f *testing.F) {
	for _, s := range []string{
		"find('deals', 'stage = \"won\"', {}, {limit: 2, offset: 4, sort: 'id'})",
		"const x = create(\"tasks\", {subject: 'a', 'due': 1, [k]: 2, s});\nupdate('deals', x.id, {stage: 'won'})",
		"// é\nfind('dé', `x`); find(a, 'b'); find()",
		"update('a', 'b', {...o, 'c': 1})", "find(\r'a')\u2028create('b', {c: 1})\r\nupdate('d', 'e', {f})", "find(", "'", "",
	} {
		f.Add(s)
	}
	sb := sandbox.New()
	f.Fuzz(func(t *testing.T, src string) {
		calls, err := sandbox.Calls(src)
		if cerr := sb.Compile(src); (cerr == nil) != (err == nil) {
			t.Fatalf("Compile: %v; Calls: %v", cerr, err)
		}
		lines := lineTerminators.Split(src, -1)
		check := func(l *sandbox.Literal) {
			if l == nil {
				return
			}
			if l.Line < 1 || l.Line > len(lines) || l.Column < 1 || l.Column > len(utf16.Encode([]rune(lines[l.Line-1]))) {
				t.Fatalf("literal %q at %d:%d is outside the script %q", l.Value, l.Line, l.Column, src)
			}
		}
		for _, c := range calls {
			if c.Func != "find" && c.Func != "create" && c.Func != "update" {
				t.Fatalf("call of %q listed", c.Func)
			}
			check(c.Object)
			check(c.Filter)
			for i := range c.Fields {
				check(&c.Fields[i])
			}
		}
	})
}
