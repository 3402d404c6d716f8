package schemas_test

import (
	"testing"

	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

var (
	openApp        = schemastest.OpenApp
	serve          = schemastest.Serve
	call           = schemastest.Call
	superuserToken = schemastest.SuperuserToken
	mustCreate     = schemastest.MustCreate
	applyObjs      = schemastest.ApplyObjs
)

// defaults returns a fresh copy of the default objects, to modify in a test.
func defaults(t testing.TB) []*schemas.Object {
	t.Helper()
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []*schemas.Object, name string) *schemas.Object {
	for _, o := range objs {
		if o.Name == name {
			return o
		}
	}
	return nil
}
