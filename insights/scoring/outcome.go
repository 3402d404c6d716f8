package scoring

import (
	"fmt"
	"slices"

	"github.com/relata/relata/schemas"
)

// Leads describes how the records of a lead object convert: the select field that holds
// their lifecycle, its values that count as converted (won) and as disqualified (lost), and
// the conversion probability of each open value when no model is trained.
type Leads struct {
	Field        string
	Converted    []string
	Disqualified []string
	// Probability is the fallback probability (0–1) of each open value; values not listed
	// have 0.
	Probability map[string]float64
}

// DefaultLeads is how Relata's default contacts convert: a contact whose lifecycle_stage
// becomes opportunity, customer or evangelist converted, one marked disqualified did not.
// Any object with a single select field named lifecycle_stage that has the value
// "disqualified" is scored so.
var DefaultLeads = Leads{
	Field:        "lifecycle_stage",
	Converted:    []string{"opportunity", "customer", "evangelist"},
	Disqualified: []string{"disqualified"},
	Probability:  map[string]float64{"subscriber": 0.03, "lead": 0.08, "mql": 0.2, "sql": 0.4},
}

// outcome is what says whether a record of a scored object is open, won or lost: the stage
// field and its pipeline, or a lead object's lifecycle field.
type outcome struct {
	field  string
	won    map[string]bool
	lost   map[string]bool // lost and other closed values
	prob   map[string]float64
	labels map[string]string
	// lead is set for lead objects (no pipeline): conversion, not a win.
	lead bool
}

func (oc *outcome) closed(v string) bool { return oc.won[v] || oc.lost[v] }

// outcomeOf returns the outcome of o's records: its stage field's pipeline, else its
// lifecycle field (see [DefaultLeads]); an error says why o cannot be scored.
func outcomeOf(o *schemas.Object) (*outcome, error) {
	if sf := o.StageField(); sf != nil {
		if o.Pipeline(sf.Pipeline) == nil {
			return nil, fmt.Errorf("%s: stage field %s names no pipeline", o.Name, sf.Name)
		}
		oc := &outcome{field: sf.Name, won: map[string]bool{}, lost: map[string]bool{}, prob: map[string]float64{}, labels: map[string]string{}}
		// Every pipeline the records may follow (deals: sales and renewals); a stage name
		// shared by two pipelines takes the first one's meaning.
		for _, pipe := range o.StagePipelines(sf) {
			for _, st := range pipe.Stages {
				if _, seen := oc.prob[st.Name]; seen {
					continue
				}
				oc.prob[st.Name] = st.Probability / 100
				oc.labels[st.Name] = st.Label
				switch {
				case st.Won:
					oc.won[st.Name] = true
				case st.IsClosed():
					oc.lost[st.Name] = true
				}
			}
		}
		return oc, nil
	}
	l := DefaultLeads
	if f := o.Field(l.Field); f != nil && f.Type == schemas.TypeSelect && !f.Multiple {
		var values []string
		labels := map[string]string{}
		for _, opt := range f.Options {
			values = append(values, opt.Value)
			labels[opt.Value] = opt.Label
		}
		if slices.ContainsFunc(l.Disqualified, func(v string) bool { return slices.Contains(values, v) }) {
			oc := &outcome{field: f.Name, won: map[string]bool{}, lost: map[string]bool{}, prob: map[string]float64{}, labels: labels, lead: true}
			for _, v := range l.Converted {
				oc.won[v], oc.prob[v] = true, 1
			}
			for _, v := range l.Disqualified {
				oc.lost[v] = true
			}
			for v, p := range l.Probability {
				oc.prob[v] = p
			}
			return oc, nil
		}
	}
	return nil, fmt.Errorf("%s has no stage field and no %s select field with a %q value: win or conversion probability needs records that are won or lost",
		o.Name, l.Field, l.Disqualified[0])
}

// Scorable reports whether o's records get a win probability (a stage field with a pipeline)
// or a conversion probability (a lead object; see [DefaultLeads]).
func Scorable(o *schemas.Object) bool {
	_, err := outcomeOf(o)
	return err == nil
}
