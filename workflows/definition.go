package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/relata/relata/schemas"
)

// Definition is one workflow as written in a file or stored in the workflows collection.
type Definition struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Enabled     bool   `json:"enabled"`
	// Object is the object whose records the workflow is about. Every trigger but a schedule
	// needs one.
	Object  string  `json:"object,omitempty"`
	Trigger Trigger `json:"trigger"`
	// Condition is an expr expression that must be true for the actions to run (see package
	// condition for what it can use). Empty: always.
	Condition string `json:"condition,omitempty"`
	// StopIf is an exit criterion (an expr condition, like Condition): it is evaluated on the
	// record's current values before every step of a run, and when it holds the run stops
	// with status "stopped". Sequences use it: replied() || unsubscribed() || record.stage == "won".
	StopIf string `json:"stopIf,omitempty"`
	// RunAs is the email of the CRM user whose permissions the actions are checked against.
	// Empty: the system, which may do anything.
	RunAs   string            `json:"runAs,omitempty"`
	Actions []json.RawMessage `json:"actions"`
}

// Trigger types.
const (
	TriggerRecordCreated = "record_created"
	TriggerRecordUpdated = "record_updated"
	TriggerRecordDeleted = "record_deleted"
	TriggerFieldChanged  = "field_changed"
	TriggerStageChanged  = "stage_changed"
	TriggerSchedule      = "schedule"
	TriggerDate          = "date"
	TriggerDormant       = "dormant"
	TriggerFormSubmitted = "form_submitted"
	TriggerManual        = "manual"
	// TriggerSegmentEntered and TriggerSegmentLeft fire when the stored membership of a
	// segment (package schemas/segments) gains or loses a contact: once per entry.
	TriggerSegmentEntered = "segment_entered"
	TriggerSegmentLeft    = "segment_left"
)

// Trigger says which events start a workflow.
type Trigger struct {
	Type string `json:"type"`
	// Field is the field of field_changed and date triggers, and optionally the stage field of
	// stage_changed ones.
	Field string `json:"field,omitempty"`
	// From and To restrict field_changed and stage_changed triggers to these old/new values.
	From any `json:"from,omitempty"`
	To   any `json:"to,omitempty"`
	// Cron is the schedule of schedule triggers ("0 9 * * 1-5").
	Cron string `json:"cron,omitempty"`
	// Offset shifts a date trigger from the field's date: "-30d" fires 30 days before.
	Offset string `json:"offset,omitempty"`
	// FireLate makes a date trigger fire at once for a record created or changed after its
	// due time had passed (a viewing booked 2 hours ahead of a "1 day before" reminder), while
	// the date is still ahead (negative offsets) or at most 7 days past due (other offsets).
	// Without it such records are skipped: only dates that come due later fire.
	FireLate bool `json:"fireLate,omitempty"`
	// Days is how long a record must go untouched to fire a dormant trigger.
	Days int `json:"days,omitempty"`
	// Form is the slug of the form of form_submitted triggers.
	Form string `json:"form,omitempty"`
	// Segment is the name or id of the segment of segment_entered and segment_left triggers.
	Segment string `json:"segment,omitempty"`
}

var (
	schemaOnce sync.Once
	schemaC    *jsonschema.Schema
	schemaErr  error
)

// Schema returns the compiled JSON Schema of workflow definitions.
func Schema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		schemaC, schemaErr = schemas.CompileSchema(files, "workflow.schema.json")
	})
	return schemaC, schemaErr
}

// Parse checks data against the workflow JSON Schema and decodes it. file names the source in
// errors (a file name, or the workflow's name for stored definitions).
func Parse(file string, data []byte) (*Definition, error) {
	sch, err := Schema()
	if err != nil {
		return nil, err
	}
	if errs := schemas.CheckJSON(file, data, sch); len(errs) > 0 {
		return nil, errs.Err()
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, schemas.Errors{{File: file, Message: "cannot decode: " + err.Error()}}.Err()
	}
	return &d, nil
}

// maxDuration bounds the durations of definitions.
const maxDuration = 100 * 365 * 24 * time.Hour

// ParseDuration reads the durations of definitions: "30m", "4h", "1d", "-30d", "2w".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 4h, 1d or 2w", s)
	}
	// One optional sign, then digits only: strconv.Atoi alone would also take the
	// sign of "+-1d" or "++1d" after the first one was cut off.
	count := s[:len(s)-1]
	digits := count
	if digits != "" && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 4h, 1d or 2w", s)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(count, "+"))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 4h, 1d or 2w", s)
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("%q has an unknown unit (use m, h, d or w)", s)
	}
	if n > int(maxDuration/unit) || n < -int(maxDuration/unit) {
		return 0, fmt.Errorf("%q is longer than %d years", s, maxDuration/(365*24*time.Hour))
	}
	return time.Duration(n) * unit, nil
}

// Marshal renders a definition as it is written to a file.
func Marshal(d *Definition) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
