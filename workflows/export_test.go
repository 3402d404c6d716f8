package workflows

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// ConditionSQL exposes conditionSQL to the external tests.
func ConditionSQL(src string, coll *core.Collection, params dbx.Params) string {
	return conditionSQL(src, coll, params)
}

// GroupFallbacks is how many groups of runs failed and ran one by one.
func (e *Engine) GroupFallbacks() int64 { return e.groupFallbacks.Load() }

// RunNextLeavingFresh is what the workers claim after a group: RunNext without the fresh runs
// RunBatch groups.
func (e *Engine) RunNextLeavingFresh() (bool, error) { return e.runNext(true) }
