package condition

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr/ast"
)

// Facts answers the questions about a record that its values alone do not: whether it is in a
// segment, has replied to mail or has unsubscribed. The workflow engine provides it for the
// record a run is about (one indexed lookup per question); expressions ask through
// inSegment("Name"), replied() and unsubscribed(). Evaluations without Facts (a dry run of a
// bare expression, a schedule without object) fail when such a helper is called.
type Facts interface {
	// InSegment reports whether the record is in the segment named (name or id) — the stored
	// membership of package schemas/segments, which lags the data by its evaluation interval.
	InSegment(segment string) (bool, error)
	// Replied reports whether a reply was recorded to an email sent about the record since
	// the run started (by package workflows/inbox).
	Replied() (bool, error)
	// Unsubscribed reports whether the record's email address is on the suppression list or
	// the record has do_not_email set.
	Unsubscribed() (bool, error)
}

// ErrNoFacts is returned by inSegment, replied and unsubscribed when the evaluation has no
// [Facts] (see [Input.Facts]).
var ErrNoFacts = errors.New("inSegment, replied and unsubscribed need a record of a workflow run")

// factsOf returns the Facts of an evaluation from its hidden budget argument.
func factsOf(fn string, args []any) (Facts, error) {
	b, _ := args[len(args)-1].(*budget)
	if b == nil || b.facts == nil {
		return nil, fmt.Errorf("%s: %w", fn, ErrNoFacts)
	}
	return b.facts, nil
}

var factHelpers = []helper{
	{
		name: "inSegment", sig: `inSegment(segment string) bool`,
		doc: `Whether the record (a contact) is in the segment named by its name or id, written as a string literal: inSegment("Lombardy VIPs"). ` +
			"It reads the stored membership (one indexed lookup), refreshed every 15 minutes, so it lags the data by up to that much. " +
			"An unknown segment is an error when the workflow is saved.",
		hidden: []string{nameBudget},
		typ:    new(func(string, *budget) bool),
		fn: func(args ...any) (any, error) {
			f, err := factsOf("inSegment", args)
			if err != nil {
				return nil, err
			}
			s, _ := args[0].(string)
			return f.InSegment(s)
		},
	},
	{
		name: "replied", sig: "replied() bool",
		doc:    "Whether a reply arrived (inbound mail) to an email sent about the record since this run started. Sequences stop on it.",
		hidden: []string{nameBudget},
		typ:    new(func(*budget) bool),
		fn: func(args ...any) (any, error) {
			f, err := factsOf("replied", args)
			if err != nil {
				return nil, err
			}
			return f.Replied()
		},
	},
	{
		name: "unsubscribed", sig: "unsubscribed() bool",
		doc:    "Whether the record's email address unsubscribed (or is otherwise suppressed), or the record has do_not_email set.",
		hidden: []string{nameBudget},
		typ:    new(func(*budget) bool),
		fn: func(args ...any) (any, error) {
			f, err := factsOf("unsubscribed", args)
			if err != nil {
				return nil, err
			}
			return f.Unsubscribed()
		},
	},
}

// SegmentRef is a segment an expression names in inSegment, with where it is written.
type SegmentRef struct {
	Name string
	pos  int
}

// Segments returns the segments the program names in inSegment calls, in order, so a caller
// can check that each exists; [Program.ErrorAt] locates a message at one.
func (p *Program) Segments() []SegmentRef {
	v := &segmentFinder{}
	node := p.prog.Node()
	ast.Walk(&node, v)
	return v.refs
}

// ErrorAt returns an *[Error] with msg located at ref (line, column and the source line).
func (p *Program) ErrorAt(ref SegmentRef, msg string) error {
	return errorAt(p.src, ref.pos, msg)
}

type segmentFinder struct{ refs []SegmentRef }

func (f *segmentFinder) Visit(node *ast.Node) {
	c, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != "inSegment" || len(c.Arguments) == 0 {
		return
	}
	if s, ok := c.Arguments[0].(*ast.StringNode); ok {
		f.refs = append(f.refs, SegmentRef{Name: s.Value, pos: s.Location().From})
	}
}
