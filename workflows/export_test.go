package workflows

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// ConditionSQL exposes conditionSQL to the external tests.
func ConditionSQL(src string, coll *core.Collection, params dbx.Params) string {
	return conditionSQL(src, coll, params)
}
