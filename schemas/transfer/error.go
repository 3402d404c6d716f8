package transfer

import (
	"fmt"
	"strings"
)

// Error is one problem with one row (or the header) of an imported file.
type Error struct {
	// File is the imported file's name.
	File string
	// Row is the 1-based row of the problem in the file (the header is row 1); 0 for the file.
	Row int
	// Column is the column heading of the offending cell; "" for the whole row.
	Column string
	// Message says what is wrong in plain language.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Row > 0 {
		fmt.Fprintf(&b, ": row %d", e.Row)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %q", e.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found in a file. It is returned as an error only when it is not
// empty.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
