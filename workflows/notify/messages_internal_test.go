package notify

import (
	"regexp"
	"slices"
	"testing"
)

// TestMessagesEveryLanguage: every message exists in every language, with the same verbs in
// the same order (a missing one would fall back to English; a verb too few prints %!(EXTRA)).
func TestMessagesEveryLanguage(t *testing.T) {
	t.Parallel()
	verb := regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]`)
	for lang, m := range messages {
		for id, en := range messages["en"] {
			got, ok := m[id]
			if !ok {
				t.Errorf("%s: no message %q", lang, id)
				continue
			}
			want, have := verb.FindAllString(en, -1), verb.FindAllString(got, -1)
			// Indexed verbs ("%[2]s") may come in another order; plain ones may not.
			if !slices.Equal(want, have) {
				ws, hs := slices.Clone(want), slices.Clone(have)
				slices.Sort(ws)
				slices.Sort(hs)
				if !slices.Equal(ws, hs) || !indexed(want) {
					t.Errorf("%s %q: verbs %q; English has %q", lang, id, have, want)
				}
			}
		}
		for id := range m {
			if _, ok := messages["en"][id]; !ok {
				t.Errorf("%s: message %q that English lacks", lang, id)
			}
		}
	}
}

func indexed(verbs []string) bool {
	for _, v := range verbs {
		if len(v) < 3 || v[1] != '[' {
			return false
		}
	}
	return true
}
