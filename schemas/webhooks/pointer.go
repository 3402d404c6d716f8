package webhooks

import (
	"fmt"
	"strconv"
	"strings"
)

// Pointer is a parsed JSON pointer (RFC 6901), such as "/contact/emails/0".
type Pointer []string

// ParsePointer parses p: "" is the whole document; otherwise p starts with "/", and "~1"
// and "~0" in a token stand for "/" and "~".
func ParsePointer(p string) (Pointer, error) {
	if p == "" {
		return Pointer{}, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("%q: a JSON pointer starts with \"/\"", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, t := range parts {
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 == len(t) || (t[j+1] != '0' && t[j+1] != '1')) {
				return nil, fmt.Errorf("%q: \"~\" must be followed by 0 or 1", p)
			}
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// Get returns the value at p in doc (decoded JSON) and whether there is one.
func (p Pointer) Get(doc any) (any, bool) {
	cur := doc
	for _, t := range p {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[t]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(v) || (len(t) > 1 && t[0] == '0') {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
