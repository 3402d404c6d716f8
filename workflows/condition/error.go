package condition

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr/file"
)

// Error is a problem in an expression and where it is, like expr's file.Error. [Compile] and
// [CompileValue] return one for every problem in the source; [Program.Eval] and [Program.Run]
// return one when evaluation fails at a known place (a helper given a wrong value, a memory
// budget exceeded).
type Error struct {
	// Line and Column are 1-based; Column counts characters, not bytes.
	Line, Column int
	// Message says what is wrong: "unknown field \"amout\" of deals (did you mean \"amount\"?)".
	Message string
	// Snippet is the source line followed by a line with a caret under Column:
	//
	//	record.amout > 10000
	//	       ^
	Snippet string

	err error // the cause, such as ErrBudget
}

// Unwrap returns the cause of an evaluation error, so errors.Is(err, [ErrBudget]) works.
func (e *Error) Unwrap() error { return e.err }

// Error returns "line:column: message".
func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message) }

// errorAt returns an *Error at the rune offset pos of src.
func errorAt(src string, pos int, msg string) *Error {
	fe := &file.Error{Location: file.Location{From: pos, To: pos + 1}, Message: msg}
	return fromFileError(src, fe)
}

// fromFileError converts expr's error, locating it in src.
func fromFileError(src string, fe *file.Error) *Error {
	fe.Bind(file.NewSource(src))
	col := fe.Column + 1
	line := src
	if lines := strings.Split(src, "\n"); fe.Line >= 1 && fe.Line <= len(lines) {
		line = lines[fe.Line-1]
	}
	line = strings.ReplaceAll(strings.TrimSuffix(line, "\r"), "\t", " ")
	return &Error{
		Line:    fe.Line,
		Column:  col,
		Message: strings.TrimSpace(fe.Message),
		Snippet: line + "\n" + strings.Repeat(" ", col-1) + "^",
	}
}

// convertError turns an error of expr into an *Error, replacing the Go names of the
// environment's generated types in its message with the names users write.
func convertError(src string, err error, s *shape) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return err
	}
	e := fromFileError(src, fe)
	e.Message = s.humanize(e.Message)
	e.err = fe.Unwrap()
	return e
}

// humanize replaces the Go names of generated types in an expr message: "type struct { F0
// string ... } has no field x" reads "type record has no field x".
func (s *shape) humanize(msg string) string {
	pairs := []string{s.env.String(), "environment", s.record.String(), "record"}
	if s.item != nil && s.item.record != s.record {
		pairs = append(pairs, s.item.record.String(), "item")
	}
	return strings.NewReplacer(append(pairs, userType.String(), "user")...).Replace(msg)
}
