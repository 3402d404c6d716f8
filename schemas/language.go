package schemas

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"golang.org/x/text/language"
)

// Languages are the languages Relata's interface and the texts the server writes for people
// (notifications, digests, score factors) speak, English first: the default and the fallback.
// A user's choice is the users collection's "language" field.
var Languages = []string{"en", "it"}

var languageMatcher = language.NewMatcher([]language.Tag{language.English, language.Italian})

// Language maps a language tag ("it", "it-IT", "en-GB") to one of [Languages], English for
// any other or none.
func Language(tag string) string {
	base := strings.ToLower(strings.SplitN(strings.TrimSpace(tag), "-", 2)[0])
	for _, l := range Languages {
		if base == l {
			return l
		}
	}
	return Languages[0]
}

// UserLanguage is the language user chose (her "language" field), else "" (not chosen).
func UserLanguage(user *core.Record) string {
	if user == nil {
		return ""
	}
	if l := user.GetString("language"); l != "" {
		return Language(l)
	}
	return ""
}

// RequestLanguage is the language to answer a request in: the signed-in user's choice, else
// the best match of the request's Accept-Language header, else English.
func RequestLanguage(re *core.RequestEvent) string {
	if l := UserLanguage(re.Auth); l != "" {
		return l
	}
	if h := re.Request.Header.Get("Accept-Language"); h != "" {
		if tags, _, err := language.ParseAcceptLanguage(h); err == nil && len(tags) > 0 {
			_, i, conf := languageMatcher.Match(tags...)
			if conf != language.No {
				return Languages[i]
			}
		}
	}
	return Languages[0]
}
