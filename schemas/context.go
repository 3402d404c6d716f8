package schemas

import "context"

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
