package workflows

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// ConditionSQL exposes conditionSQL to the external tests.
func ConditionSQL(src string, coll *core.Collection, params dbx.Params) string {
	return conditionSQL(src, coll, params)
}

// FanOut exposes fanOut: the tests that claim runs without Drain write the runs of stored
// workflow events first, as the engine's event loop does.
func (e *Engine) FanOut() (int, error) { return e.fanOut() }
