package condition

import (
	"reflect"

	"github.com/relata/relata/schemas"
)

// Variable is one name an expression can use, for editor autocomplete and help.
type Variable struct {
	// Name is what the expression writes: "record.amount", "user.role", "now", "daysSince".
	Name string `json:"name"`
	// Type is the type as expr's messages name it: "string", "float64", "bool", "time.Time",
	// "[]string", "any"; for a function, its signature: "daysSince(t time.Time) float64".
	Type string `json:"type"`
	// Doc says what the name holds or does.
	Doc string `json:"doc"`
	// Function marks a helper function.
	Function bool `json:"function,omitempty"`
}

// Variables lists every name an expression about records of obj can use, in this order:
// record.<column> for each column, old.<column>, changed, user.<field>, now, event, then
// Relata's helper functions. expr's own built-ins (len, lower, contains, ...) are not listed.
func Variables(obj *schemas.Object) []Variable {
	cols := columnsOf(obj)
	vars := make([]Variable, 0, 2*len(cols)+len(userFields)+3+len(helpers)+len(macros))
	for _, c := range cols {
		vars = append(vars, Variable{Name: nameRecord + "." + c.name, Type: c.kind.goType().String(), Doc: c.doc})
	}
	for _, c := range cols {
		vars = append(vars, Variable{Name: nameOld + "." + c.name, Type: c.kind.goType().String(),
			Doc: "Before the event: " + c.doc})
	}
	vars = append(vars, Variable{Name: nameChanged, Type: "[]string", Doc: "Names of the fields the event changed."})
	userDocs := map[string]string{
		"id":    "Id of the user who caused the event; empty for system and scheduled runs.",
		"email": "Email of the acting user.",
		"name":  "Name of the acting user.",
		"role":  "Role of the acting user: admin, manager or sales.",
		"team":  "Team of the acting user.",
	}
	for i, f := range userFields {
		vars = append(vars, Variable{Name: nameUser + "." + f, Type: userType.Field(i).Type.String(), Doc: userDocs[f]})
	}
	vars = append(vars,
		Variable{Name: nameNow, Type: timeType.String(), Doc: "The time of the evaluation (UTC)."},
		Variable{Name: nameEvent, Type: reflect.TypeFor[string]().String(),
			Doc: "What happened: create, update, delete, schedule, form, manual, ..."},
	)
	for _, h := range append(helpers[:len(helpers):len(helpers)], macros...) {
		vars = append(vars, Variable{Name: h.name, Type: h.sig, Doc: h.doc, Function: true})
	}
	return vars
}
