package pbpublic

import (
	"os/exec"
	"testing"
)

// TestConditionJS runs testdata/condition.test.mjs with node: the no-code condition editor's
// rows → expr → rows round trips for every operator, groups, and the texts it refuses.
func TestConditionJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the condition editor's translation tests need it")
	}
	out, err := exec.Command(node, "--test", "testdata/condition.test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test testdata/condition.test.mjs: %v\n%s", err, out)
	}
}
