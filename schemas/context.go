package schemas

import (
	"context"
	"sync/atomic"
)

type noTriggersKey struct{}

// WithoutTriggers returns a context whose record saves do not trigger workflows: bulk jobs
// (imports without --workflows, undo) save with it, and package hooks honours it.
func WithoutTriggers(ctx context.Context) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithValue(ctx, noTriggersKey{}, true)
}

// TriggersSuppressed reports whether ctx was made by [WithoutTriggers].
func TriggersSuppressed(ctx context.Context) bool {
	if ctx == nil {
		return false
	}
	v, _ := ctx.Value(noTriggersKey{}).(bool)
	return v
}

type runCounterKey struct{}

// WithRunCounter returns a context whose record saves count the workflow runs they queue
// ([CountRuns]; package hooks counts them), and the counter: an import with workflows says
// how many runs it queued.
func WithRunCounter(ctx context.Context) (context.Context, *atomic.Int64) {
	if ctx == nil {
		ctx = context.Background()
	}
	n := new(atomic.Int64)
	return context.WithValue(ctx, runCounterKey{}, n), n
}

// CountRuns adds n runs queued by a save made with ctx to its [WithRunCounter] counter, if any.
func CountRuns(ctx context.Context, n int) {
	if ctx == nil {
		return
	}
	if c, ok := ctx.Value(runCounterKey{}).(*atomic.Int64); ok {
		c.Add(int64(n))
	}
}

// Origin says who or what makes a change, for the audit trail (package schemas/audit): saves
// made with a context from [WithOrigin] are attributed to it.
type Origin struct {
	Kind string `json:"kind"` // one of the Origin* kinds
	ID   string `json:"id,omitempty"`
	// Via says through what: "api", "workflow:NAME", "import", "seed", "privacy erasure".
	Via string `json:"via,omitempty"`
}

// Kinds of [Origin].
const (
	OriginUser      = "user"      // a CRM user (users collection), through the API or the web app
	OriginSuperuser = "superuser" // a PocketBase superuser, through the API or the dashboard
	OriginWorkflow  = "workflow"  // a workflow run (ID is the run's id)
	OriginImport    = "import"    // an import batch (ID is the batch's id)
	OriginToken     = "token"     // an API token (ID is the token's id)
	OriginSystem    = "system"    // Relata itself or a command
)

type originKey struct{}

// WithOrigin returns a context that attributes the saves made with it to o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin set with [WithOrigin], if any.
func OriginFrom(ctx context.Context) (Origin, bool) {
	if ctx == nil {
		return Origin{}, false
	}
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}
