package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// lineIndex maps JSON pointers of a document to the line their value starts on.
type lineIndex struct {
	data  []byte
	lines map[string]int
}

// indexLines scans a JSON document and records the line of every value by pointer.
// A document that does not parse yields a partial index; that is fine for error reporting.
func indexLines(data []byte) *lineIndex {
	li := &lineIndex{data: data, lines: map[string]int{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		array bool
		index int
		key   string
		// wantKey is true inside an object when the next string token is a key.
		wantKey bool
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			b.WriteByte('/')
			if f.array {
				b.WriteString(strconv.Itoa(f.index))
			} else {
				b.WriteString(escapePointer(f.key))
			}
		}
		return b.String()
	}
	for {
		start := li.skipSpace(int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			return li
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				if parent.array {
					parent.index++
				} else {
					parent.wantKey = true
				}
			}
			continue
		}
		if top != nil && !top.array && top.wantKey {
			top.key, _ = tok.(string)
			top.wantKey = false
			continue
		}
		li.lines[path()] = lineAt(data, start)
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{array: d == '[', wantKey: d == '{'})
			continue
		}
		if top != nil {
			if top.array {
				top.index++
			} else {
				top.wantKey = true
			}
		}
	}
}

func (li *lineIndex) skipSpace(i int) int {
	for i < len(li.data) {
		switch li.data[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
		default:
			return i
		}
	}
	return i
}

// line returns the line of the value at pointer, or of its nearest ancestor that has one.
func (li *lineIndex) line(pointer string) int {
	for {
		if n, ok := li.lines[pointer]; ok {
			return n
		}
		i := strings.LastIndexByte(pointer, '/')
		if i < 0 {
			return 0
		}
		pointer = pointer[:i]
	}
}

func lineAt(data []byte, offset int) int {
	if offset > len(data) {
		offset = len(data)
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// syntaxError turns a JSON decoding error into a located message.
func syntaxError(file string, data []byte, err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{File: file, Line: lineAt(data, int(se.Offset)), Message: "invalid JSON: " + se.Error()}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		ptr := "/" + strings.ReplaceAll(te.Field, ".", "/")
		return &Error{File: file, Line: lineAt(data, int(te.Offset)), Pointer: ptr,
			Message: "must be " + jsonKind(te.Type.Kind().String()) + ", not " + te.Value}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &Error{File: file, Line: lineAt(data, len(data)), Message: "invalid JSON: the file ends too early"}
	}
	return &Error{File: file, Message: "invalid JSON: " + err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "a list"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a number"
}
