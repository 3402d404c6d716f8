package schemas_test

import (
	"testing"

	"github.com/relata/relata/schemas"
)

func TestLanguage(t *testing.T) {
	for in, want := range map[string]string{"it": "it", "it-IT": "it", "IT": "it", "en-GB": "en", "": "en", "de": "en", " it ": "it", "italian": "en"} {
		if got := schemas.Language(in); got != want {
			t.Errorf("Language(%q) = %q; want %q", in, got, want)
		}
	}
}
