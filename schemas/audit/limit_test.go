package audit

import (
	"strconv"
	"testing"
)

// TestChainBatchText: the journal is read with ChainBatch written into the SQL text.
func TestChainBatchText(t *testing.T) {
	if chainBatchText != strconv.Itoa(ChainBatch) {
		t.Fatalf("chainBatchText %q; want %d", chainBatchText, ChainBatch)
	}
}
