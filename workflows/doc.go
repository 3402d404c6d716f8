// Package workflows is Relata's automation engine: rules of the form trigger → condition →
// actions, defined by business users and run durably.
//
// Definitions live in the "workflows" collection (editable in the admin dashboard and the web
// app) and as JSON files (`relata workflow import|export`). Each is checked against
// workflow.schema.json with jsonschema/v6 and then for meaning — the object, fields and stages
// it names exist, every expression compiles against the object's fields — whenever it is
// saved or imported.
//
// Record triggers are queued by package hooks in the same database transaction as the change
// that caused them ([Engine.Enqueue]); time triggers (schedule, date, dormant) are found by a
// minute tick. A pool of workers runs queued runs outside request latency. Every run and every
// action step is persisted; an action that writes to the database commits together with its
// step record, so a run resumed after a crash never repeats a completed step. Fresh runs of
// workflows that only write the database are executed up to [BatchSize] at a time in one
// transaction ([Engine.RunBatch], a group commit). Transient
// failures retry with exponential backoff and jitter, then the run goes dead with its error.
//
//	reg := schemas.MustRegister(app, app.RootCmd, schemas.Config{})
//	eng := workflows.MustRegister(app, app.RootCmd, workflows.Config{Registry: reg})
//	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
package workflows
