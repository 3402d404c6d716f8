package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// TestExportStops cancels an export's context: it ends with ErrExportStopped at the next
// chunk of records (1,001 contacts: three chunks of 500), in CSV and XLSX; an export whose
// context is not cancelled writes every record.
func TestExportStops(t *testing.T) {
	e := newEnv(t)
	for i := range 1001 {
		schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": fmt.Sprint("Person ", i), "email": fmt.Sprintf("p%d@stop.example", i)})
	}
	for _, format := range []string{transfer.FormatCSV, transfer.FormatXLSX} {
		ctx, cancel := context.WithCancel(context.Background())
		var buf bytes.Buffer
		n, err := e.svc.Export(&buf, transfer.ExportOptions{Object: "contacts", Format: format, Context: ctx})
		if err != nil || n != 1001 {
			t.Fatalf("%s: export with a live context: %d, %v", format, n, err)
		}
		cancel()
		buf.Reset()
		n, err = e.svc.Export(&buf, transfer.ExportOptions{Object: "contacts", Format: format, Context: ctx})
		if !errors.Is(err, transfer.ErrExportStopped) || n != 0 {
			t.Fatalf("%s: export with a cancelled context: %d, %v; want 0, ErrExportStopped", format, n, err)
		}
	}
}
