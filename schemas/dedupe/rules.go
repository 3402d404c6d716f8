package dedupe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/relata/relata/schemas"
)

// Kinds of match a [Rule] makes.
const (
	MatchEmail  = "email"  // the same address after [NormalizeEmail]
	MatchPhone  = "phone"  // the same number in E.164 after [NormalizePhone]
	MatchDomain = "domain" // the same host after [NormalizeDomain]
	MatchExact  = "exact"  // the same text after [NormalizeName] (an external id, a VAT number)
	MatchName   = "name"   // names at least Threshold alike by [NameSimilarity]
)

var kinds = []string{MatchEmail, MatchPhone, MatchDomain, MatchExact, MatchName}

// Rule is one way two records of an object can be the same thing.
type Rule struct {
	// Match is one of the Match* kinds.
	Match string `json:"match"`
	// Field is the field compared.
	Field string `json:"field"`
	// SameField, for name rules, is a field both records must share (contacts: "company"):
	// names are compared only between records with the same non-empty value of it.
	SameField string `json:"sameField,omitempty"`
	// Threshold, for name rules, is the least similarity that counts (default 0.9).
	Threshold float64 `json:"threshold,omitempty"`
	// Score is how sure a match by this rule makes a pair, 0 to 1. The scores of the rules a
	// pair matches combine as 1 − Π(1 − score); a name rule's is scaled by the similarity.
	Score float64 `json:"score"`
}

// ObjectRules are the matching rules of one object.
type ObjectRules struct {
	// MinScore is the least combined score of a listed pair (default 0.5).
	MinScore float64 `json:"minScore,omitempty"`
	Rules    []Rule  `json:"rules"`
}

// Rules are the matching rules of every object, as read from a rules file.
type Rules struct {
	// Region is the ISO 3166 country whose numbering plan reads phone numbers written
	// without an international prefix ("IT"); empty: such numbers match nobody.
	Region  string                  `json:"region,omitempty"`
	Objects map[string]*ObjectRules `json:"objects"`
}

// For returns the rules of o: those of the rules file when it names o, else the default ones
// derived from o's fields — email fields by address, phone fields by number, a "domain" text
// field or "website" URL by host, and the title field by name similarity among records that
// share o's first single relation to another object (a contact's company).
func (rs *Rules) For(o *schemas.Object) *ObjectRules {
	if rs != nil {
		if r, ok := rs.Objects[o.Name]; ok {
			return r
		}
	}
	return DefaultRules(o)
}

// DefaultRules derives the rules of o from its fields; see [Rules.For].
func DefaultRules(o *schemas.Object) *ObjectRules {
	out := &ObjectRules{MinScore: 0.5}
	same := ""
	for _, f := range o.Fields {
		if f.Type == schemas.TypeRelation && !f.Multiple && f.Target != o.Name && f.Target != schemas.UsersCollection {
			same = f.Name
			break
		}
	}
	for _, f := range o.Fields {
		switch {
		case f.Type == schemas.TypeEmail:
			out.Rules = append(out.Rules, Rule{Match: MatchEmail, Field: f.Name, Score: 0.95})
		case f.Type == schemas.TypePhone:
			out.Rules = append(out.Rules, Rule{Match: MatchPhone, Field: f.Name, Score: 0.8})
		case f.Name == "domain" && f.Type == schemas.TypeText, f.Name == "website" && f.Type == schemas.TypeURL:
			out.Rules = append(out.Rules, Rule{Match: MatchDomain, Field: f.Name, Score: 0.9})
		}
	}
	if t := o.Field(o.TitleField); t != nil && (t.Type == schemas.TypeText) {
		if same != "" {
			out.Rules = append(out.Rules, Rule{Match: MatchName, Field: t.Name, SameField: same, Threshold: 0.9, Score: 0.9})
		} else {
			out.Rules = append(out.Rules, Rule{Match: MatchName, Field: t.Name, Threshold: 0.92, Score: 0.7})
		}
	}
	return out
}

// ParseRules reads a rules file (see docs/duplicates.md). objects looks up the object
// definitions the rules name. Every problem is reported, each with the file, line and JSON
// pointer, as [schemas.Errors].
func ParseRules(data []byte, file string, objects func(name string) (*schemas.Object, bool)) (*Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, schemas.Errors{syntaxError(file, data, err)}
	}
	if dec.More() {
		return nil, schemas.Errors{{File: file, Line: lineAt(data, int(dec.InputOffset())), Message: "unexpected text after the JSON value"}}
	}
	p := &parser{file: file, data: data}
	rs := p.rules(raw, objects)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *schemas.Error) int { return strings.Compare(a.Pointer, b.Pointer) })
		return nil, p.errs
	}
	return rs, nil
}

type parser struct {
	file string
	data []byte
	errs schemas.Errors
}

func (p *parser) fail(ptr, format string, args ...any) {
	p.errs = append(p.errs, &schemas.Error{File: p.file, Pointer: ptr, Line: pointerLine(p.data, ptr), Message: fmt.Sprintf(format, args...)})
}

func (p *parser) object(v any, ptr string, known ...string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		p.fail(ptr, "must be an object")
		return nil
	}
	for k := range m {
		if !slices.Contains(known, k) {
			p.fail(ptr+"/"+escape(k), "unknown key %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return m
}

func (p *parser) str(m map[string]any, key, ptr string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.fail(ptr+"/"+key, "must be a string")
	}
	return s
}

func (p *parser) num(m map[string]any, key, ptr string, def float64) float64 {
	v, ok := m[key]
	if !ok {
		return def
	}
	n, ok := v.(json.Number)
	if !ok {
		p.fail(ptr+"/"+key, "must be a number")
		return def
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1 {
		p.fail(ptr+"/"+key, "must be between 0 and 1, not %s", n)
		return def
	}
	return f
}

func (p *parser) rules(raw any, objects func(string) (*schemas.Object, bool)) *Rules {
	m := p.object(raw, "", "region", "objects")
	if m == nil {
		return nil
	}
	rs := &Rules{Region: strings.ToUpper(p.str(m, "region", "")), Objects: map[string]*ObjectRules{}}
	if rs.Region != "" && len(rs.Region) != 2 {
		p.fail("/region", "must be a two-letter country code such as \"IT\", not %q", rs.Region)
	}
	if _, ok := m["objects"]; !ok {
		p.fail("", "missing \"objects\"")
		return rs
	}
	objs, ok := m["objects"].(map[string]any)
	if !ok {
		p.fail("/objects", "must be an object of object name to rules")
		return rs
	}
	names := make([]string, 0, len(objs))
	for k := range objs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		ptr := "/objects/" + escape(name)
		o, ok := objects(name)
		if !ok {
			p.fail(ptr, "no object named %q", name)
			continue
		}
		om := p.object(objs[name], ptr, "minScore", "rules")
		if om == nil {
			continue
		}
		or := &ObjectRules{MinScore: p.num(om, "minScore", ptr, 0.5)}
		list, ok := om["rules"].([]any)
		if !ok {
			p.fail(ptr+"/rules", "must be a list of rules")
			continue
		}
		for i, rv := range list {
			rptr := fmt.Sprintf("%s/rules/%d", ptr, i)
			rm := p.object(rv, rptr, "match", "field", "sameField", "threshold", "score")
			if rm == nil {
				continue
			}
			r := Rule{Match: p.str(rm, "match", rptr), Field: p.str(rm, "field", rptr), SameField: p.str(rm, "sameField", rptr),
				Threshold: p.num(rm, "threshold", rptr, 0.9), Score: p.num(rm, "score", rptr, 0.9)}
			if !slices.Contains(kinds, r.Match) {
				p.fail(rptr+"/match", "must be one of %s, not %q", strings.Join(kinds, ", "), r.Match)
			}
			if o.Field(r.Field) == nil {
				p.fail(rptr+"/field", "%s has no field %q", name, r.Field)
			}
			if r.SameField != "" && o.Field(r.SameField) == nil {
				p.fail(rptr+"/sameField", "%s has no field %q", name, r.SameField)
			}
			if r.SameField != "" && r.Match != MatchName {
				p.fail(rptr+"/sameField", "only name rules take sameField")
			}
			if r.Match != MatchName {
				r.Threshold = 0
			}
			or.Rules = append(or.Rules, r)
		}
		rs.Objects[name] = or
	}
	return rs
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func syntaxError(file string, data []byte, err error) *schemas.Error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &schemas.Error{File: file, Line: lineAt(data, int(se.Offset)), Message: "invalid JSON: " + se.Error()}
	case errors.As(err, &te):
		return &schemas.Error{File: file, Line: lineAt(data, int(te.Offset)), Message: "invalid JSON: " + te.Error()}
	}
	return &schemas.Error{File: file, Line: lineAt(data, len(data)), Message: "invalid JSON: " + err.Error()}
}

func lineAt(data []byte, offset int) int {
	offset = min(max(offset, 0), len(data))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// pointerLine finds the line of the last key of ptr in data: the first line, after the lines
// of the earlier keys, holding that key in quotes. It is a hint for people; 0 when not found.
func pointerLine(data []byte, ptr string) int {
	if ptr == "" {
		return 0
	}
	off := 0
	for _, part := range strings.Split(ptr[1:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		if len(part) > 0 && part[0] >= '0' && part[0] <= '9' {
			continue // list index: the next key is searched after the list's start
		}
		key, _ := json.Marshal(part)
		i := bytes.Index(data[off:], key)
		if i < 0 {
			return 0
		}
		off += i + len(key)
	}
	return lineAt(data, off)
}
