package privacy_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
)

// TestEraseAtScale: a person with more linked records than SQLite's expression depth (1,000
// terms of an OR; the audit search made one term per record and failed) is exported and
// erased completely through the API, and the certificate counts every record. (Run once with
// 10,001: 17 s, complete.)
func TestEraseAtScale(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app)
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.com", "admin", "")
	ada := schemastest.MustCreate(t, w.app, "contacts", map[string]any{"full_name": "Scale Person", "email": "scale.person@example.net"})
	const n = 1001
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{schemas.OrderedID(), "note", fmt.Sprintf("Note %d", i), "Private detail", ada.Id, now, now}
	}
	if err := schemas.InsertMany(w.app, "activities", []string{"id", "type", "subject", "body", "contact", "created", "updated"}, rows); err != nil {
		t.Fatal(err)
	}
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/privacy/export", adminTok,
		map[string]any{"email": "scale.person@example.net"}, nil); code != 200 {
		t.Fatalf("export = %d", code)
	}
	var cert privacy.Certificate
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/privacy/erase", adminTok,
		map[string]any{"email": "scale.person@example.net", "confirm": true}, &cert); code != 200 {
		t.Fatalf("erase = %d", code)
	}
	if cert.Deleted["contacts"] != 1 || cert.Scrubbed["activities"] != n {
		t.Errorf("certificate %+v; want 1 contact deleted and %d activities scrubbed", cert, n)
	}
	if left, err := w.app.CountRecords("activities", dbx.NewExp("contact != '' OR body != {:m}", dbx.Params{"m": privacy.Marker})); err != nil || left != 0 {
		t.Errorf("%d activities still link to her or keep their details (%v)", left, err)
	}
}
