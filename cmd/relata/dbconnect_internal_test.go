package main

import (
	"context"
	"database/sql"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// TestIdleConnectionsKept: a burst of concurrent requests (here 40 connections held at once,
// as 40 concurrent REST requests do) leaves its connections open when it ends, instead of
// closing all but 15 of them — each reopened connection parses the schema again and loses its
// kept statements. With PocketBase's default configuration 25 would be closed.
func TestIdleConnectionsKept(t *testing.T) {
	cfg := appConfig()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: t.TempDir(), DBConnect: cfg.DBConnect,
		DataMaxOpenConns: cfg.DataMaxOpenConns, DataMaxIdleConns: cfg.DataMaxIdleConns})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ResetBootstrapState()
	db := app.ConcurrentDB().(*dbx.DB).DB()
	ctx := context.Background()
	conns := make([]*sql.Conn, 40)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		c.Close()
	}
	if st := db.Stats(); st.MaxIdleClosed != 0 || st.Idle < len(conns) {
		t.Fatalf("after a burst of %d connections: %d idle, %d closed for the idle limit; want all %d kept",
			len(conns), st.Idle, st.MaxIdleClosed, len(conns))
	}
}
