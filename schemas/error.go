package schemas

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in one definition file.
type Error struct {
	// File is the definition file's name ("deals.json"), or the object name when there is no file.
	File string
	// Line is the 1-based line of the problem in File, when known (0 otherwise).
	Line int
	// Pointer is the JSON pointer of the offending value ("/fields/3/type"); "" for the whole file.
	Pointer string
	// Message says what is wrong in plain language.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Pointer != "" {
		b.WriteString(" ")
		b.WriteString(e.Pointer)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found in a set of definitions. It is returned as an error only when
// it is not empty.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// ByPointer groups the messages by "file#pointer", the shape HTTP error data uses.
func (es Errors) ByPointer() map[string]string {
	m := make(map[string]string, len(es))
	for _, e := range es {
		key := e.File + "#" + e.Pointer
		if prev, ok := m[key]; ok {
			m[key] = prev + "; " + e.Message
			continue
		}
		m[key] = e.Message
	}
	return m
}

// sort orders the problems by file, then line, then pointer, so output is stable.
func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Pointer < b.Pointer
	})
}

// errOrNil returns es as an error, or nil when it holds no problem.
func (es Errors) errOrNil() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return es
}
