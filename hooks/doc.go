// Package hooks is the one place that binds PocketBase record events of CRM objects to
// Relata: default values, the owner of new records, "last touched" timestamps, and (with a
// workflow engine) the triggers of workflows, queued in the transaction of the change.
//
//	reg := schemas.MustRegister(app, app.RootCmd, schemas.Config{})
//	hooks.MustRegister(app, hooks.Config{Registry: reg})
package hooks
