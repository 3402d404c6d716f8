package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/condition"
)

// routes adds the engine's HTTP API for the web app's workflow builder. Every endpoint needs
// a CRM user with the role admin or manager, or a superuser.
//
//	POST /api/relata/workflows/validate      {"definition": {...}}
//	POST /api/relata/workflows/test          {"name" | "definition", "recordId" and/or "record", "old"}
//	POST /api/relata/workflows/{name}/run    {"recordId"}
//	POST /api/relata/runs/{id}/retry
//	GET  /api/relata/objects/{object}/variables
//	GET, PUT, DELETE /api/relata/secrets[/{name}]   (write-only, see secretRoutes)
func (e *Engine) routes(se *core.ServeEvent) {
	g := se.Router.Group("/api/relata")
	g.Bind(apis.RequireAuth(), &hook.Handler[*core.RequestEvent]{Id: "relata.workflows.managers", Func: requireManager})
	g.POST("/workflows/validate", e.apiValidate)
	g.POST("/workflows/test", e.apiTest)
	g.POST("/workflows/{name}/run", e.apiRun)
	g.POST("/runs/{id}/retry", e.apiRetry)
	g.GET("/objects/{object}/variables", e.apiVariables)
	e.secretRoutes(g)
}

func requireManager(re *core.RequestEvent) error {
	if re.HasSuperuserAuth() {
		return re.Next()
	}
	if re.Auth.Collection().Name == schemas.UsersCollection {
		if role := re.Auth.GetString("role"); role == schemas.RoleAdmin || role == schemas.RoleManager {
			return re.Next()
		}
	}
	return re.ForbiddenError("Only admins and managers work with workflows.", nil)
}

// invalid turns definition problems into a 400 answer with one entry per JSON pointer.
func invalid(re *core.RequestEvent, err error) error {
	var errs schemas.Errors
	if errors.As(err, &errs) {
		out := make([]map[string]any, len(errs))
		for i, e := range errs {
			out[i] = map[string]any{"pointer": e.Pointer, "line": e.Line, "message": e.Message}
		}
		return re.JSON(http.StatusBadRequest, map[string]any{"status": 400, "message": "Invalid workflow definition.", "errors": out})
	}
	return re.BadRequestError(err.Error(), nil)
}

// compileBody parses and compiles a definition sent in a request.
func (e *Engine) compileBody(raw json.RawMessage) (*Workflow, error) {
	if len(raw) == 0 {
		return nil, errors.New("missing definition")
	}
	d, err := Parse("definition", raw)
	if err != nil {
		schemas.Locate(asErrors(err), "definition", raw)
		return nil, err
	}
	return e.Compile("definition", d)
}

func asErrors(err error) schemas.Errors {
	var errs schemas.Errors
	errors.As(err, &errs)
	return errs
}

func (e *Engine) apiValidate(re *core.RequestEvent) error {
	var body struct {
		Definition json.RawMessage `json:"definition"`
	}
	if err := re.BindBody(&body); err != nil {
		return re.BadRequestError("The body must be JSON: {\"definition\": {...}}.", err)
	}
	if _, err := e.compileBody(body.Definition); err != nil {
		return invalid(re, err)
	}
	return re.JSON(http.StatusOK, map[string]any{"valid": true})
}

func (e *Engine) apiTest(re *core.RequestEvent) error {
	var body struct {
		Name       string          `json:"name"`
		Definition json.RawMessage `json:"definition"`
		RecordID   string          `json:"recordId"`
		Record     map[string]any  `json:"record"`
		Old        map[string]any  `json:"old"`
	}
	if err := re.BindBody(&body); err != nil {
		return re.BadRequestError("The body must be JSON.", err)
	}
	var w *Workflow
	var err error
	if body.Name != "" {
		if w, err = e.storedWorkflow(body.Name); err != nil {
			return re.NotFoundError(err.Error(), nil)
		}
	} else if w, err = e.compileBody(body.Definition); err != nil {
		return invalid(re, err)
	}
	rec, err := e.testRecord(w, body.RecordID, body.Record)
	if err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	if body.RecordID != "" && rec != nil {
		if ok, err := schemas.User(re.Auth).CanView(re.App, rec); err != nil || !ok {
			return re.BadRequestError("no "+w.Object.Name+" record with id "+body.RecordID, nil)
		}
	}
	rep, err := e.DryRun(w, rec, testOld(rec, body.Record, body.Old), nil)
	if err != nil {
		return re.InternalServerError("The dry run failed.", err)
	}
	return re.JSON(http.StatusOK, rep)
}

func (e *Engine) apiRun(re *core.RequestEvent) error {
	var body struct {
		RecordID string `json:"recordId"`
	}
	if err := re.BindBody(&body); err != nil {
		return re.BadRequestError("The body must be JSON: {\"recordId\": \"...\"}.", err)
	}
	w, ok := e.Workflow(re.Request.PathValue("name"))
	if !ok {
		return re.NotFoundError("No enabled workflow of that name.", nil)
	}
	var rec *core.Record
	if w.Object != noObject {
		r, err := re.App.FindRecordById(w.Object.Name, body.RecordID)
		if err != nil {
			return re.NotFoundError("No "+w.Object.Name+" record with that id.", nil)
		}
		if ok, err := schemas.User(re.Auth).CanView(re.App, r); err != nil || !ok {
			return re.NotFoundError("No "+w.Object.Name+" record with that id.", nil)
		}
		rec = r
	}
	run, err := e.trigger(re.App, w, rec, "manual", re.Auth)
	if err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	if run == "" {
		return re.JSON(http.StatusOK, map[string]any{"run": nil, "reason": "the condition does not hold for this record"})
	}
	e.Wake()
	return re.JSON(http.StatusOK, map[string]any{"run": run})
}

func (e *Engine) apiRetry(re *core.RequestEvent) error {
	if err := e.Retry(re.Request.PathValue("id")); err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	return re.JSON(http.StatusOK, map[string]any{"status": StatusPending})
}

func (e *Engine) apiVariables(re *core.RequestEvent) error {
	obj, ok := e.reg.Object(re.Request.PathValue("object"))
	if !ok {
		return re.NotFoundError("Unknown object.", nil)
	}
	return re.JSON(http.StatusOK, condition.Variables(obj))
}

// storedWorkflow compiles the stored workflow of that name, enabled or not.
func (e *Engine) storedWorkflow(name string) (*Workflow, error) {
	rec, err := e.app.FindFirstRecordByData(Collection, "name", name)
	if err != nil {
		return nil, errors.New("no workflow named " + name)
	}
	d, err := e.definitionOf(rec)
	if err != nil {
		return nil, err
	}
	w, err := e.Compile(name, d)
	if err != nil {
		return nil, err
	}
	w.ID = rec.Id
	return w, nil
}

// testRecord finds the record of a dry run, or builds an unsaved one from values.
func (e *Engine) testRecord(w *Workflow, id string, values map[string]any) (*core.Record, error) {
	if w.Object == noObject {
		return nil, nil
	}
	coll, err := e.app.FindCachedCollectionByNameOrId(w.Object.Name)
	if err != nil {
		return nil, err
	}
	// Values with an existing record's id (or given with recordId) override its fields for
	// the test; other values make a new record.
	var rec *core.Record
	if vid, _ := values["id"].(string); id == "" && vid != "" {
		rec, _ = e.app.FindRecordById(w.Object.Name, vid)
	}
	if id != "" {
		if rec, err = e.app.FindRecordById(w.Object.Name, id); err != nil {
			return nil, errors.New("no " + w.Object.Name + " record with id " + id)
		}
	}
	if rec == nil {
		rec = core.NewRecord(coll)
	}
	for k, v := range values {
		// Any column of the record: the object's fields, their companions (a currency
		// field's amount_currency) and the id.
		if coll.Fields.GetByName(k) == nil {
			return nil, fmt.Errorf("%s has no field %q (fields: %s)", w.Object.Name, k, strings.Join(coll.Fields.FieldNames(), ", "))
		}
		if !rec.IsNew() && (k == schemas.FieldCreated || k == schemas.FieldUpdated) {
			continue
		}
		rec.Set(k, v)
	}
	return rec, nil
}

// testOld returns the values before the change a dry run simulates: old over the record's
// values when given; the stored values when values override a stored record (the override
// is the change); else nil (no change: every trigger fits).
func testOld(rec *core.Record, values, old map[string]any) map[string]any {
	switch {
	case rec == nil:
		return old
	case old != nil:
		merged := snapshot(rec)
		maps.Copy(merged, old)
		return merged
	case !rec.IsNew() && len(values) > 0:
		return snapshot(rec.Original())
	}
	return nil
}

// Retry queues a failed or dead run again. Its completed steps are kept and not repeated;
// the failed step starts a fresh series of attempts.
func (e *Engine) Retry(runID string) error {
	run, err := e.app.FindRecordById(RunsCollection, runID)
	if err != nil {
		return errors.New("no run with id " + runID)
	}
	if s := run.GetString("status"); s != StatusFailed && s != StatusDead {
		return errors.New("only failed or dead runs can be retried; this one is " + s)
	}
	err = e.app.RunInTransaction(func(tx core.App) error {
		// Read again in the transaction: the save writes every column, and a run that started
		// a chain has its count (chain_runs) raised by the chain's runs meanwhile.
		run, err := tx.FindRecordById(RunsCollection, runID)
		if err != nil {
			return err
		}
		if _, err := tx.DB().Update(StepsCollection, dbx.Params{"attempts": 0}, dbx.HashExp{"run": runID, "status": "failed"}).Execute(); err != nil {
			return err
		}
		run.Set("status", StatusPending)
		run.Set("error", "")
		run.Set("next_at", e.cfg.Now().UTC())
		run.Set("finished", "")
		return tx.Save(run)
	})
	if err != nil {
		return err
	}
	// After the commit: a worker woken before it would look, not see the run, and leave it
	// to the next poll.
	e.loose.Store(true)
	e.Wake()
	return nil
}
