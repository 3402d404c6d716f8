package workflows_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows"
)

var jsBlock = regexp.MustCompile("(?s)```js\n(.*?)```")

// TestScriptingDocExamples runs every ```js example of docs/scripting.md as a script action,
// in a dry run on a deal of the sales example data, and checks what its // result:, // set:
// and // error: lines say.
func TestScriptingDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/scripting.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := jsBlock.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 15 {
		t.Fatalf("found %d examples; the reference has more", len(blocks))
	}
	e := newBareEnv(t, workflows.Config{})
	e.clock.now = time.Now().UTC()
	if _, err := schemas.Seed(e.app, e.reg.Objects(), os.DirFS("../examples/sales/seed")); err != nil {
		t.Fatal(err)
	}
	deal, err := e.app.FindRecordById("deals", "dea000000000001")
	if err != nil {
		t.Fatal(err)
	}
	old := deal.FieldsData()
	old["stage"] = "negotiation"
	for i, b := range blocks {
		src := b[1]
		t.Run(fmt.Sprint("example ", i+1), func(t *testing.T) {
			want := map[string]string{}
			for _, line := range strings.Split(src, "\n") {
				for _, k := range []string{"result", "set", "error"} {
					if v, ok := strings.CutPrefix(line, "// "+k+": "); ok {
						want[k] = v
					}
				}
			}
			def := `{"name": "doc", "object": "deals", "trigger": {"type": "record_updated"},
			  "actions": [{"type": "script", "source": ` + jsonOf(src) + `}]}`
			d, err := workflows.Parse("doc.json", []byte(def))
			if err != nil {
				t.Fatal(err)
			}
			w, err := e.eng.Compile("doc.json", d)
			if err != nil {
				t.Fatalf("%s\nrefused: %v", src, err)
			}
			rec, _ := e.app.FindRecordById("deals", deal.Id)
			rep, err := e.eng.DryRun(w, rec, old, nil)
			if err != nil {
				t.Fatal(err)
			}
			if w, ok := want["error"]; ok {
				if !strings.Contains(rep.Error, w) {
					t.Errorf("%s\nerror %q; want …%s…", src, rep.Error, w)
				}
				return
			}
			if rep.Error != "" || len(rep.Steps) != 1 {
				t.Fatalf("%s\nfailed: %s", src, rep.Error)
			}
			out, _ := rep.Steps[0].Output.(map[string]any)
			for _, k := range []string{"result", "set"} {
				w, ok := want[k]
				if !ok {
					continue
				}
				key := map[string]string{"result": "value", "set": "set"}[k]
				if !sameJSON(t, out[key], w) {
					got, _ := json.Marshal(out[key])
					t.Errorf("%s\n%s %s; want %s", src, k, got, w)
				}
			}
		})
	}
}

func sameJSON(t *testing.T, got any, want string) bool {
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad JSON in the doc: %s", want)
	}
	b, _ := json.Marshal(got)
	_ = json.Unmarshal(b, &g)
	return reflect.DeepEqual(g, w)
}
