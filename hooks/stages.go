package hooks

import (
	"fmt"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// StageChangesCollection holds the stage history of records: one record per change of a
// stage field, written in the same database write as the change.
const StageChangesCollection = "stage_changes"

// stageHistory records every change of a stage field of any object (and the first stage of a
// new record) in the stage_changes collection: object, record, field, from, to, the CRM user
// who made the change (changed_by, empty for workflows and imports) and when (at, the
// record's own created or updated time). The history is written in the record's own
// transaction, so a change is never stored without its history, nor the other way round.
// Apps without the stage_changes collection (its migration not run) are left alone.
type stageHistory struct {
	h *handlers
}

type stageChange struct {
	field, from, to string
}

// changes lists the stage fields whose value the pending write changes.
func (s *stageHistory) changes(o *schemas.Object, rec *core.Record) []stageChange {
	var out []stageChange
	for _, f := range o.Fields {
		if f.Type != schemas.TypeStage {
			continue
		}
		to := rec.GetString(f.Name)
		from := ""
		if !rec.IsNew() {
			from = rec.Original().GetString(f.Name)
		}
		if to != from {
			out = append(out, stageChange{field: f.Name, from: from, to: to})
		}
	}
	return out
}

func (s *stageHistory) record(e *core.RecordEvent) error {
	o := s.h.object(e.Record)
	if o == nil {
		return e.Next()
	}
	changes := s.changes(o, e.Record)
	if len(changes) == 0 {
		return e.Next()
	}
	coll, err := e.App.FindCachedCollectionByNameOrId(StageChangesCollection)
	if err != nil {
		return e.Next() // no history collection in this app
	}
	actor := ""
	if a := s.h.actor(e.Record); a != nil && a.Collection().Name == schemas.UsersCollection {
		actor = a.Id
	}
	created := e.Record.IsNew()
	orig := e.App
	defer func() { e.App = orig }()
	return e.App.RunInTransaction(func(tx core.App) error {
		e.App = tx
		if err := e.Next(); err != nil {
			return err
		}
		at := e.Record.GetDateTime(schemas.FieldUpdated)
		if created {
			at = e.Record.GetDateTime(schemas.FieldCreated)
		}
		if at.IsZero() {
			at = types.NowDateTime()
		}
		for _, c := range changes {
			h := core.NewRecord(coll)
			h.Set("object", o.Name)
			h.Set("record", e.Record.Id)
			h.Set("field", c.field)
			h.Set("from", c.from)
			h.Set("to", c.to)
			h.Set("changed_by", actor)
			h.Set("at", at.Time().UTC().Truncate(time.Millisecond))
			// Not validated again: every value comes from the record just validated (its
			// object, stage field and stage values) or is the signed-in user; validating
			// would look the user up once more inside the write transaction.
			if err := tx.SaveNoValidate(h); err != nil {
				return fmt.Errorf("record the stage change of %s %s (%s → %s): %w", o.Name, e.Record.Id, c.from, c.to, err)
			}
		}
		return nil
	})
}

// checkStagePipeline refuses a record whose stage is not a stage of the pipeline it follows
// (objects whose stage field has a pipelineField: deals in "new business" and in "renewals"),
// whoever saves it (API, import, workflow). The error names the field, the pipeline and its
// stages; the API answers 400 with it under data.<stage field>.
func (h *handlers) checkStagePipeline(e *core.RecordEvent) error {
	o := h.object(e.Record)
	if o == nil {
		return e.Next()
	}
	for _, f := range o.Fields {
		if f.Type != schemas.TypeStage || f.PipelineField == "" {
			continue
		}
		stage := e.Record.GetString(f.Name)
		p := o.RecordPipeline(f, e.Record.GetString(f.PipelineField))
		if stage == "" || p == nil || p.Stage(stage) != nil {
			continue // empty stage and unknown pipeline: the select columns' own checks answer
		}
		label := p.Label
		if label == "" {
			label = p.Name
		}
		return validation.Errors{f.Name: validation.NewError("validation_stage_not_in_pipeline",
			fmt.Sprintf("stage %q is not a stage of the %s pipeline (%s: %s)", stage, label, p.Name, strings.Join(p.StageNames(), ", "))).
			SetParams(map[string]any{"stage": stage, "pipeline": label, "stages": strings.Join(p.StageNames(), ", ")})}
	}
	return e.Next()
}
