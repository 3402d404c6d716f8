package outbox_test

import (
	"fmt"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
)

// TestSuppressed: of 1,001 addresses (several groups of a query each), those on the list by
// address and those of erased people, kept as the keyed hash of their address, are
// suppressed; the others, an address that only contains a suppressed one among them, are not.
func TestSuppressed(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	var addrs []string
	want := map[string]bool{}
	for i := range 1001 {
		a := fmt.Sprintf("p%d@example.com", i)
		addrs = append(addrs, a)
		row := dbx.Params{"id": fmt.Sprintf("sup%012d", i), "reason": "manual"}
		switch {
		case i%7 == 0:
			row["email"], row["email_hash"] = a, ""
		case i%11 == 0:
			h, err := schemas.AddressHash(app, a)
			if err != nil {
				t.Fatal(err)
			}
			row["email"], row["email_hash"] = "", h
		default:
			continue
		}
		want[a] = true
		if _, err := app.DB().Insert(outbox.SuppressionsCollection, row).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	addrs = append(addrs, "xp7@example.com") // contains p7@example.com, which is suppressed
	got, err := outbox.Suppressed(app, addrs)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if got[a] != want[a] {
			t.Errorf("%s suppressed: %v; want %v", a, got[a], want[a])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d suppressed; want %d", len(got), len(want))
	}
}
