package schemas

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

func init() {
	registerFieldType(TypeSelect, selectType{})
	registerFieldType(TypeStage, stageType{})
	registerFieldType(TypeTags, tagsType{})
}

type selectType struct{}

func maxSelect(f *Field, n int) int {
	if f.Multiple {
		return max(n, 1)
	}
	return 1
}

func (selectType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	vals := f.OptionValues()
	return []core.Field{&core.SelectField{Name: name, Help: help, Required: req, Values: vals, MaxSelect: maxSelect(f, len(vals))}}, nil
}

func checkChoices(f *Field, allowed []string, what string, v any) error {
	var vals []string
	switch x := v.(type) {
	case string:
		vals = []string{x}
	case []any:
		if !f.Multiple {
			return fmt.Errorf("must be a single %s, not a list", what)
		}
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("must list %ss as strings, not %s", what, describe(e))
			}
			vals = append(vals, s)
		}
	default:
		return fmt.Errorf("must be a %s, not %s", what, describe(v))
	}
	for _, s := range vals {
		if s != "" && !slices.Contains(allowed, s) {
			return fmt.Errorf("%q is not among the %ss of this field (%s)", s, what, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func (selectType) CheckValue(_ *Object, f *Field, v any) error {
	return checkChoices(f, f.OptionValues(), "option", v)
}

// stageType stores the stage of a pipeline as a select column whose values are the stage names.
type stageType struct{}

func (stageType) Columns(o *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	p := o.Pipeline(f.Pipeline)
	if p == nil {
		return nil, fmt.Errorf("field %q names unknown pipeline %q", f.Name, f.Pipeline)
	}
	name, help, req := common(f)
	return []core.Field{&core.SelectField{Name: name, Help: help, Required: req, Values: stageValues(o, f), MaxSelect: 1}}, nil
}

func (stageType) CheckValue(o *Object, f *Field, v any) error {
	p := o.Pipeline(f.Pipeline)
	if p == nil {
		return fmt.Errorf("names unknown pipeline %q", f.Pipeline)
	}
	single := *f
	single.Multiple = false
	return checkChoices(&single, stageValues(o, f), "stage", v)
}

// stageValues lists the stage names of every pipeline a stage field offers, in order, once.
func stageValues(o *Object, f *Field) []string {
	var vals []string
	for _, p := range o.StagePipelines(f) {
		for _, n := range p.StageNames() {
			if !slices.Contains(vals, n) {
				vals = append(vals, n)
			}
		}
	}
	return vals
}

// tagsType stores free-form tags as a JSON array of strings.
type tagsType struct{}

func (tagsType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	return []core.Field{&core.JSONField{Name: name, Help: help, Required: req, MaxSize: 64 << 10}}, nil
}

func (tagsType) CheckValue(_ *Object, _ *Field, v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("must be a list of tags, not %s", describe(v))
	}
	for i, e := range list {
		s, ok := e.(string)
		if !ok || strings.TrimSpace(s) == "" {
			return fmt.Errorf("tag %d must be a non-empty string", i)
		}
	}
	return nil
}
