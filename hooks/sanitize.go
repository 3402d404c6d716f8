package hooks

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// prioritySanitize runs the rich text sanitiser after every other create/update handler
// has set its values (handlers run by ascending priority; ours works before e.Next), so what
// is validated and stored is what was sanitised.
const prioritySanitize = 1000

// bindSanitize cleans every rich text (editor) field of every record saved, whatever the
// path: REST and batch requests, forms, imports, workflow actions and Go code calling Save or
// SaveNoValidate. OnRecordCreate/OnRecordUpdate are the record side of OnModelCreate/
// OnModelUpdate, which PocketBase triggers for every save, before validation and the write.
//
// Every collection is covered, not only the object model: fields and collections added in
// the dashboard are rich text the web app may show too. PocketBase's own collections hold
// no editor fields.
func bindSanitize(app core.App) {
	app.OnRecordCreate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.sanitize-create", Priority: prioritySanitize, Func: sanitizeRichText})
	app.OnRecordUpdate().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.hooks.sanitize-update", Priority: prioritySanitize, Func: sanitizeRichText})
}

func sanitizeRichText(e *core.RecordEvent) error {
	for _, f := range e.Record.Collection().Fields {
		if _, ok := f.(*core.EditorField); !ok {
			continue
		}
		name := f.GetName()
		v := e.Record.GetString(name)
		if v == "" {
			continue
		}
		if clean := schemas.SanitizeHTML(v); clean != v {
			e.Record.Set(name, clean)
		}
	}
	return e.Next()
}
