package privacy

import "testing"

// TestMentionsWholeAddress: an address names the person only where it stands whole, a name or
// phone number only as whole words, and each is scrubbed only there. Matching by substring
// named (and scrubbed) every longer address, name or number that holds it:
// joann@example.com lost her "ann@example.com" in Ann's erasure.
func TestMentionsWholeAddress(t *testing.T) {
	needles := []string{"ann@example.com", "Ann Marlowe", "+39 333 1234567"}
	scenarios := []struct {
		name, text string
		want       bool
		scrubbed   string // what scrub leaves; the text itself when empty
	}{
		{"alone", "ann@example.com", true, Marker},
		{"upper case", "ANN@Example.COM", true, Marker},
		{"in a sentence", "Wrote to ann@example.com.", true, "Wrote to " + Marker + "."},
		{"in angle brackets", "Ann M <ann@example.com>, Bob <bob@example.com>", true, "Ann M <" + Marker + ">, Bob <bob@example.com>"},
		{"in JSON", `{"to":"ann@example.com"}`, true, `{"to":"` + Marker + `"}`},
		{"JSON-escaped brackets", `["Ann \u003cann@example.com\u003e"]`, true, `["Ann \u003c` + Marker + `\u003e"]`},
		{"after a JSON newline", `"hello\nann@example.com"`, true, `"hello\n` + Marker + `"`},
		{"after full-width punctuation", "邮箱：ann@example.com。", true, "邮箱：" + Marker + "。"},
		{"mailto", `<a href="mailto:ann@example.com">`, true, `<a href="mailto:` + Marker + `">`},
		{"twice, once whole", "joann@example.com and ann@example.com", true, "joann@example.com and " + Marker},
		{"a longer local part", "joann@example.com", false, ""},
		{"a local part after a dot", "jo.ann@example.com", false, ""},
		{"a local part after a plus", "x+ann@example.com", false, ""},
		{"a local part after a letter of another script", "jöann@example.com", false, ""},
		{"a longer domain", "ann@example.com.evil.org", false, ""},
		{"a longer domain, in a sentence", "Wrote to ann@example.com.evil.org.", false, ""},
		{"a longer top-level domain", "ann@example.community", false, ""},
		{"a domain with a hyphen", "ann@example.com-mail.org", false, ""},
		{"a name, any case", "Call ANN MARLOWE today", true, "Call " + Marker + " today"},
		{"a name at a sentence's end", "Met Ann Marlowe.", true, "Met " + Marker + "."},
		{"a name after a JSON newline", `"hi\nAnn Marlowe"`, true, `"hi\n` + Marker + `"`},
		{"a name in a longer one", "Ann Marlowes and Jo-Ann Marlowe", true, "Ann Marlowes and Jo-" + Marker},
		{"a longer surname", "Ann Marlowesky called", false, ""},
		{"a longer first name", "Joann Marlowe called", false, ""},
		{"a phone number", "call +39 333 1234567 now", true, "call " + Marker + " now"},
		{"a longer phone number", "call +39 333 12345678 now", false, ""},
		{"a phone number after digits", "ref 1+39 333 1234567", false, ""},
		{"nothing", "", false, ""},
	}
	d := &Dossier{needles: needles}
	for _, sc := range scenarios {
		if got := mentionsAny(sc.text, needles); got != sc.want {
			t.Errorf("%s: mentionsAny(%q) = %v; want %v", sc.name, sc.text, got, sc.want)
		}
		want := sc.scrubbed
		if want == "" {
			want = sc.text
		}
		if got := d.scrub(sc.text); got != want {
			t.Errorf("%s: scrub(%q) = %q; want %q", sc.name, sc.text, got, want)
		}
	}
	if mentionsAny("anything", []string{"", " "}) {
		t.Error("an empty needle names everything")
	}
}
