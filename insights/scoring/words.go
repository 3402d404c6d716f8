package scoring

import (
	"fmt"

	"github.com/relata/relata/schemas"
)

// factorWords are the sentences of a prediction's factors in one language. The formats take
// the numbers as %.0f (days, amounts) or a counted noun ("3 meetings") as %s.
type factorWords struct {
	inStage, daysInStage, age, amount, sinceTouch string
	noneRecent, recent, total                     string
	// hidden names the points of the activities a reader may not open (rule-based scores).
	hidden string
	// nouns name activity types and related records: singular and plural.
	nouns map[string][2]string
}

var factorLanguages = map[string]*factorWords{
	"en": {
		inStage:     "in stage %s",
		daysInStage: "%.0f days in the current stage",
		age:         "open for %.0f days",
		amount:      "amount %.0f",
		sinceTouch:  "last touch %.0f days ago",
		noneRecent:  "no %s in the last %d days",
		recent:      "%s in the last %d days",
		total:       "%s in total",
		hidden:      "activities you may not open",
	},
	"it": {
		inStage:     "nella fase %s",
		daysInStage: "%.0f giorni nella fase attuale",
		age:         "aperta da %.0f giorni",
		amount:      "importo %.0f",
		sinceTouch:  "ultimo contatto %.0f giorni fa",
		noneRecent:  "nessuna %s negli ultimi %d giorni",
		recent:      "%s negli ultimi %d giorni",
		total:       "%s in tutto",
		hidden:      "attività che non puoi aprire",
		nouns: map[string][2]string{
			"call": {"chiamata", "chiamate"}, "meeting": {"riunione", "riunioni"}, "email": {"email", "email"},
			"note": {"nota", "note"}, "task": {"attività", "attività"}, "contact": {"contatto", "contatti"},
			"deal": {"trattativa", "trattative"}, "company": {"azienda", "aziende"},
		},
	},
}

// wordsFor is the language's words, English for one Relata does not speak.
func wordsFor(lang string) *factorWords {
	if w, ok := factorLanguages[schemas.Language(lang)]; ok {
		return w
	}
	return factorLanguages["en"]
}

// noun is a thing's name in the singular ("meeting"): the language's word when it has one,
// else the key itself (a custom activity type or field is shown as the model names it).
func (w *factorWords) noun(key string) string {
	if n, ok := w.nouns[key]; ok {
		return n[0]
	}
	return key
}

// count is k of a thing: "1 meeting", "3 meetings", "3 riunioni".
func (w *factorWords) count(k float64, key string) string {
	if n, ok := w.nouns[key]; ok {
		if k == 1 {
			return "1 " + n[0]
		}
		return fmt.Sprintf("%g %s", k, n[1])
	}
	if k == 1 {
		return "1 " + key
	}
	return fmt.Sprintf("%g %ss", k, key)
}
