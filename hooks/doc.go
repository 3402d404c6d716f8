// Package hooks is the one place that binds PocketBase record events of CRM objects to
// Relata: default values, the owner of new records, "last touched" timestamps, the stage
// history of records (stage_changes), and, with a workflow engine, the triggers of
// workflows, queued in the transaction of the change.
//
//	reg := schemas.MustRegister(app, app.RootCmd, schemas.Config{})
//	eng := workflows.MustRegister(app, app.RootCmd, workflows.Config{Registry: reg})
//	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
package hooks
