package campaigns

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/outbox"
)

// FuzzTracking feeds the link rewriters (HTML and plain text) any rendered part and template source, and the token
// parser any string: nothing panics, every rewritten link carries a token that parses back to
// its recipient and to a URL the template contains, and only signed tokens parse.
//
//	go test ./workflows/campaigns -run '^$' -fuzz FuzzTracking -fuzztime 30s
func FuzzTracking(f *testing.F) {
	f.Add(`<p><a href="https://shop.example.com/a?x=1&amp;y=2">Shop</a></p>`, `<a href="https://shop.example.com/a?x=1&amp;y=2">Shop</a>`, "bm90.YS10b2tlbg")
	f.Add(`<a href="javascript:alert(1)">x</a><a href=https://evil.example/>y</a>`, `https://evil.example/`, "")
	f.Add(`<html><body><a href="https://a.example/">a</a></body></html>`, `<a href="{{.url}}">`, "...")
	f.Add("Shop (https://shop.example.com/a?x=1&y=2).\nhttps://evil.example/x", "Shop https://shop.example.com/a?x=1&y=2", "")
	s := New(nil, Config{TrackingSecret: "fuzz-secret"})
	coll := core.NewBaseCollection(Collection)
	coll.Fields.Add(&core.BoolField{Name: "track_clicks"}, &core.BoolField{Name: "track_opens"})
	c := core.NewRecord(coll)
	c.Set("track_clicks", true)
	c.Set("track_opens", true)
	r := core.NewRecord(core.NewBaseCollection(RecipientsCollection))
	r.Id = "recipient000001"
	f.Fuzz(func(t *testing.T, rendered, source, token string) {
		if rid, target, err := s.ParseToken(token); err == nil {
			if again, _ := s.Token(rid, target); again != token {
				t.Fatalf("token %q parsed to (%q, %q), which signs as %q", token, rid, target, again)
			}
		}
		out, err := s.track(c, r, source, rendered)
		if err != nil {
			return
		}
		// The same input as a plain-text part: its rewritten URLs obey the same rule.
		text, err := s.trackText(c, r, source, rendered)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range strings.Split(out+"\n"+text, outbox.PublicURLPlaceholder+ClickPath)[1:] {
			end := strings.IndexAny(part, "\"' >\n\t\r)")
			if end < 0 {
				end = len(part)
			}
			rid, target, err := s.ParseToken(part[:end])
			if err != nil {
				continue // the placeholder text was in the input itself
			}
			if rid != r.Id || !trackable(source, target) {
				t.Fatalf("rewrote a link to %q for %q; the template source does not contain it:\n%s", target, rid, source)
			}
		}
	})
}
