package schemas

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"sync"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/core"
)

// PhonePattern is the pattern phone fields are checked with: digits with an optional leading
// "+" and the usual separators.
const PhonePattern = `^\+?[0-9][0-9 ().\-/]{2,31}$`

// Length limits of the text types, in characters.
const (
	textMax     = 1000
	longTextMax = 100000
)

// Size limit of a rich text value, in bytes.
const richTextMaxSize = 1 << 20

func init() {
	registerFieldType(TypeText, textType{max: textMax})
	registerFieldType(TypeLongText, textType{max: longTextMax})
	registerFieldType(TypePhone, textType{max: 32, pattern: PhonePattern})
	registerFieldType(TypeRichText, richTextType{})
	registerFieldType(TypeEmail, emailType{})
	registerFieldType(TypeURL, urlType{})
}

type textType struct {
	max     int
	pattern string
}

func (t textType) limits(f *Field) (lo, hi int, pattern string) {
	lo, hi, pattern = intBound(f.Min), t.max, t.pattern
	if f.Max != nil && (int(*f.Max) < hi || t.pattern == "") {
		hi = int(*f.Max) // text and longtext take any limit; phone only a lower one
	}
	if f.Pattern != "" {
		pattern = f.Pattern
	}
	return lo, hi, pattern
}

func (t textType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	lo, hi, pattern := t.limits(f)
	return []core.Field{&core.TextField{Name: name, Help: help, Required: req, Min: lo, Max: hi, Pattern: pattern}}, nil
}

func (t textType) CheckValue(_ *Object, f *Field, v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a string, not %s", describe(v))
	}
	lo, hi, pattern := t.limits(f)
	n := utf8.RuneCountInString(s)
	if n < lo {
		return fmt.Errorf("must be at least %d characters long", lo)
	}
	if n > hi {
		return fmt.Errorf("must be at most %d characters long", hi)
	}
	if pattern != "" && s != "" {
		re, err := CompiledPattern(pattern)
		if err != nil {
			return fmt.Errorf("pattern %q does not compile: %w", pattern, err)
		}
		if !re.MatchString(s) {
			return fmt.Errorf("%q does not match the pattern %s", s, pattern)
		}
	}
	return nil
}

// patterns holds the compiled patterns of text fields, by pattern: a value is checked for
// every record a form, an import or a workflow writes, and compiling the pattern each time
// was most of the check (a phone value's check allocated 25 KB). The patterns are those of
// the object definitions, the phone type's and PocketBase's id pattern: a few.
var patterns sync.Map // string -> *regexp.Regexp

// CompiledPattern returns pattern compiled, compiling each pattern once.
func CompiledPattern(pattern string) (*regexp.Regexp, error) {
	if re, ok := patterns.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	patterns.Store(pattern, re)
	return re, nil
}

type richTextType struct{}

func (richTextType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	return []core.Field{&core.EditorField{Name: name, Help: help, Required: req, MaxSize: richTextMaxSize}}, nil
}

func (richTextType) CheckValue(_ *Object, _ *Field, v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a string of HTML, not %s", describe(v))
	}
	if len(s) > richTextMaxSize {
		return fmt.Errorf("must be at most %d bytes", richTextMaxSize)
	}
	return nil
}

type emailType struct{}

func (emailType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	return []core.Field{&core.EmailField{Name: name, Help: help, Required: req}}, nil
}

func (emailType) CheckValue(_ *Object, _ *Field, v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be an email address string, not %s", describe(v))
	}
	if s == "" {
		return nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return fmt.Errorf("%q is not a valid email address", s)
	}
	return nil
}

type urlType struct{}

func (urlType) Columns(_ *Object, f *Field, _ CollectionIDs) ([]core.Field, error) {
	name, help, req := common(f)
	return []core.Field{&core.URLField{Name: name, Help: help, Required: req}}, nil
}

func (urlType) CheckValue(_ *Object, _ *Field, v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a URL string, not %s", describe(v))
	}
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("must be an absolute URL such as https://example.com")
	}
	return nil
}
