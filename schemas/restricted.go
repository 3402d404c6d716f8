package schemas

import (
	"fmt"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// RestrictedField is a field whose value only some callers may read: the package that owns it
// hides it from the others when records are served (an OnRecordEnrich hook), and the filter
// guard ([CheckFilter]) refuses to let them filter or sort by it — on the collection's own list,
// in realtime subscriptions and through relations from other collections alike — since the
// items or their order would tell the value.
type RestrictedField struct {
	// Collection and Field name the field ("segments", "member_count").
	Collection, Field string
	// May reports whether c may read the field. Superusers and the system always may.
	May func(c Caller) bool
	// Message says why the others may not, and what to use instead.
	Message string
}

const restrictedKey = "relata.schemas.restricted-fields"

// RestrictField registers f with app's filter guard. Registering a field again replaces it.
func RestrictField(app core.App, f RestrictedField) {
	key := f.Collection + "." + f.Field
	// copied on write: the guard reads the map without a lock
	app.Store().SetFunc(restrictedKey, func(old any) any {
		prev, _ := old.(map[string]RestrictedField)
		next := make(map[string]RestrictedField, len(prev)+1)
		for k, v := range prev {
			next[k] = v
		}
		next[key] = f
		return next
	})
}

// restrictedField returns the restriction of the field that path ends at, where reached
// are the collections its relation hops join (as [guard.walk] returns them).
func (g *guard) restrictedField(path string, reached []*core.Collection) (RestrictedField, bool) {
	fields, _ := g.app.Store().Get(restrictedKey).(map[string]RestrictedField)
	if len(fields) == 0 || strings.HasPrefix(path, "@") {
		return RestrictedField{}, false
	}
	props := strings.Split(path, ".")
	coll := g.base
	if len(props) > 1 {
		if len(reached) != len(props)-1 {
			return RestrictedField{}, false // the path does not resolve: PocketBase refuses it
		}
		coll = reached[len(reached)-1]
	}
	last, _, _ := strings.Cut(props[len(props)-1], ":") // member_count:length
	f, ok := fields[coll.Name+"."+last]
	if !ok || f.May == nil || f.May(g.c) {
		return RestrictedField{}, false
	}
	return f, true
}

// refuseRestricted is the guard's refusal of a path that ends at a restricted field.
func (g *guard) refuseRestricted(where, path string, reached []*core.Collection) error {
	f, ok := g.restrictedField(path, reached)
	if !ok {
		return nil
	}
	return &AccessError{Where: where, Path: path, Message: fmt.Sprintf("%s.%s: %s", f.Collection, f.Field, f.Message)}
}
