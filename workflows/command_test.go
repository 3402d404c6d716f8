package workflows_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// relataCmd runs `relata args...` with the workflow command on app and returns its output.
func relataCmd(t *testing.T, e *env, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "relata", SilenceErrors: true}
	reg := schemas.MustRegister(e.app, nil, schemas.Config{})
	workflows.MustRegister(e.app, root, workflows.Config{Registry: reg})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestWorkflowTestCommand(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	const kickoff = `{"name": "kickoff", "enabled": true, "object": "deals", "trigger": {"type": "stage_changed", "to": "won"},
	  "condition": "record.amount_currency == \"GBP\"",
	  "actions": [{"type": "update_record", "values": {"description": "=\"kickoff \" + record.name"}}]}`
	file := filepath.Join(t.TempDir(), "kickoff.json")
	if err := os.WriteFile(file, []byte(kickoff), 0o600); err != nil {
		t.Fatal(err)
	}
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Elm", "stage": "proposal", "amount": 5, "amount_currency": "GBP"})
	tests := []struct {
		name    string
		args    []string
		want    string // in the output
		wantErr string
	}{{
		name: "a file is dry-run without importing it; currency codes are fields",
		args: []string{"workflow", "test", file, "--record", `{"name": "New", "stage": "won", "amount": 9, "amount_currency": "GBP"}`, "--old", `{"stage": "proposal"}`},
		want: `"description":"kickoff New"`,
	}, {
		name: "an existing record with a field overridden: the override is the change",
		args: []string{"workflow", "test", file, "--record", `{"id": "` + deal.Id + `", "stage": "won"}`},
		want: `"description":"kickoff Elm"`,
	}, {
		name: "an override that does not make the change does not trigger",
		args: []string{"workflow", "test", file, "--record", `{"id": "` + deal.Id + `", "amount": 7}`},
		want: "the trigger does not fire",
	}, {
		name: "the condition sees the overridden currency",
		args: []string{"workflow", "test", file, "--record", `{"id": "` + deal.Id + `", "stage": "won", "amount_currency": "EUR"}`},
		want: "the condition does not hold",
	}, {
		name:    "an unknown field is named",
		args:    []string{"workflow", "test", file, "--record", `{"name": "X", "colour": "red"}`},
		wantErr: `deals has no field "colour"`,
	}, {
		name:    "a broken file is reported with its path",
		args:    []string{"workflow", "test", filepath.Join(t.TempDir(), "missing.json"), "--record", `{}`},
		wantErr: "missing.json",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := relataCmd(t, e, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+out, tt.wantErr) {
					t.Fatalf("err = %v, output %q; want %q", err, out, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out, tt.want) {
				t.Fatalf("err = %v, output:\n%s\nwant %q", err, out, tt.want)
			}
		})
	}
	// The API overrides a stored record the same way.
	code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{
		"definition": json.RawMessage(kickoff), "recordId": deal.Id, "record": map[string]any{"stage": "won"}})
	if code != 200 || rep["triggered"] != true || !strings.Contains(jsonOf(rep["steps"]), "kickoff Elm") {
		t.Errorf("API override = %d %v", code, rep)
	}
	// Nothing was imported or changed.
	if n := e.count(t, workflows.Collection, "id != ''"); n != 0 {
		t.Errorf("%d workflows stored by dry runs", n)
	}
	if d, _ := e.app.FindRecordById("deals", deal.Id); d.GetString("stage") != "proposal" || d.GetString("description") != "" {
		t.Errorf("deal changed: %v", d.FieldsData())
	}
	if n := e.count(t, "deals", "id != ''"); n != 1 {
		t.Errorf("%d deals; want 1", n)
	}
}
