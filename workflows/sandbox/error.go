package sandbox

import (
	"errors"
	"fmt"
)

var (
	// ErrTimeout is returned, wrapped, when a script runs longer than its [Timeout].
	ErrTimeout = errors.New("sandbox: script ran out of time")
	// ErrMemory is returned, wrapped, when a script would exceed [MaxAllocBytes] or
	// [MaxStringLength], or asks a built-in for more elements than it accepts.
	ErrMemory = errors.New("sandbox: script exceeded its memory limit")
	// ErrCallLimit is returned, wrapped, when a script calls find or create more than [MaxCalls] times.
	ErrCallLimit = errors.New("sandbox: script made too many store calls")
)

// SyntaxError is a script that does not compile, or uses a construct the sandbox refuses
// (such as a BigInt literal or a backtracking regular expression).
type SyntaxError struct {
	Line    int    // 1-based
	Column  int    // 1-based, in UTF-16 code units as JavaScript editors count
	Message string // "Unexpected token ;"
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("syntax error at line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// ScriptError is a JavaScript exception the script threw and did not catch.
// When the exception came from a failed find or create, Unwrap returns the [Store]'s error.
type ScriptError struct {
	Message string // "TypeError: Cannot read property 'x' of undefined", or the thrown value as a string
	Line    int    // 1-based; 0 when unknown
	Column  int    // 1-based, in UTF-16 code units; 0 when unknown
	err     error
}

func (e *ScriptError) Error() string {
	if e.Line == 0 {
		return "script error: " + e.Message
	}
	return fmt.Sprintf("script error at line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// Unwrap returns the Go error behind the exception, if any.
func (e *ScriptError) Unwrap() error { return e.err }

// limitError is a run stopped by a limit or by its context; it wraps ErrTimeout, ErrMemory,
// ErrCallLimit or the context's cause.
type limitError struct {
	err          error
	detail       string
	line, column int
}

func (e *limitError) Error() string {
	s := e.detail
	if e.line > 0 {
		s += fmt.Sprintf(" (line %d, column %d)", e.line, e.column)
	}
	if s == "" {
		return e.err.Error()
	}
	return s + ": " + e.err.Error()
}

func (e *limitError) Unwrap() error { return e.err }
