package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/spf13/cobra"
)

// registerReplication adds `serve --replicate URL` (continuous replication of pb_data/data.db
// with Litestream, embedded as a library) and `relata restore --from URL --dir NEWDIR`.
//
// Only file:// replicas (or a plain directory path) are built in: the S3 client would add the
// AWS SDK to every build. For s3:// run the litestream binary beside Relata (docs/SCALING.md);
// it writes the same replica format, so `litestream restore` and this restore read each other's.
func registerReplication(app *pocketbase.PocketBase) {
	var replicaURL string
	var interval time.Duration
	pf := app.RootCmd.PersistentFlags()
	pf.StringVar(&replicaURL, "replicate", os.Getenv("RELATA_REPLICATE_URL"),
		"with serve: replicate data.db continuously with Litestream to this file:// URL or directory (env RELATA_REPLICATE_URL)")
	pf.DurationVar(&interval, "replicateInterval", time.Second,
		"with serve --replicate: how often new writes are shipped to the replica (the bound on data lost)")

	// `relata restore` must not overwrite a database: whether one was there is known only
	// before PocketBase opens (and so creates) it.
	_, statErr := os.Stat(filepath.Join(app.DataDir(), "data.db"))
	hadDB := statErr == nil

	var store *litestream.Store
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.main.replicate",
		Priority: -100, // before anything writes at start
		Func: func(e *core.ServeEvent) error {
			if replicaURL == "" {
				return e.Next()
			}
			client, err := replicaClient(replicaURL)
			if err != nil {
				return fmt.Errorf("--replicate: %w", err)
			}
			db := litestream.NewDB(filepath.Join(e.App.DataDir(), "data.db"))
			db.MonitorInterval = interval
			db.SetLogger(e.App.Logger().With("component", "litestream"))
			r := litestream.NewReplicaWithClient(db, client)
			r.SyncInterval = interval
			db.Replica = r
			if fc, ok := client.(*file.ReplicaClient); ok {
				fc.Replica = r
			}
			store = litestream.NewStore([]*litestream.DB{db}, litestream.DefaultCompactionLevels)
			if err := store.Open(context.Background()); err != nil {
				return fmt.Errorf("--replicate %s: start Litestream: %w", replicaURL, err)
			}
			// Ship a first snapshot now: Litestream otherwise starts at its first tick, and a
			// stop before it would leave the replica empty. It also proves the replica writable.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := db.SyncAndWait(ctx); err != nil {
				db.ShutdownSyncTimeout = 0 // one last attempt, not 30 s of retries
				_ = store.Close(context.Background())
				store = nil
				return fmt.Errorf("--replicate %s: first sync: %w", replicaURL, err)
			}
			e.App.Logger().Info("replicating data.db", "replica", replicaURL, "interval", interval.String())
			return e.Next()
		},
	})
	app.OnTerminate().Bind(&hook.Handler[*core.TerminateEvent]{
		Id: "relata.main.replicate-stop",
		Func: func(e *core.TerminateEvent) error {
			if store != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				// Close ships what is left in the WAL before the databases close.
				if err := store.Close(ctx); err != nil {
					e.App.Logger().Error("stop replication", "error", err)
				}
				store = nil
			}
			return e.Next()
		},
	})

	var from string
	restore := &cobra.Command{
		Use:          "restore --from URL --dir NEWDIR",
		SilenceUsage: true,
		Short:        "Restore data.db from a Litestream replica into a data directory that has none",
		Args:         cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if from == "" {
				return errors.New("restore: --from URL is required (the --replicate URL of the primary)")
			}
			dst := filepath.Join(app.DataDir(), "data.db")
			if hadDB {
				return fmt.Errorf("restore: %s already exists; restore into a new --dir", dst)
			}
			client, err := replicaClient(from)
			if err != nil {
				return fmt.Errorf("restore --from: %w", err)
			}
			// The command's start created an empty database: close and remove it.
			if err := app.ResetBootstrapState(); err != nil {
				return fmt.Errorf("restore: close the databases: %w", err)
			}
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(dst + suffix); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("restore: %w", err)
				}
			}
			r := litestream.NewReplicaWithClient(nil, client)
			opt := litestream.NewRestoreOptions()
			opt.OutputPath = dst
			opt.IntegrityCheck = litestream.IntegrityCheckQuick
			if err := r.Restore(c.Context(), opt); err != nil {
				return fmt.Errorf("restore --from %s: %w", from, err)
			}
			fmt.Fprintf(c.OutOrStdout(), "restored %s from %s\n", dst, from)
			return nil
		},
	}
	restore.Flags().StringVar(&from, "from", "", "the replica: a file:// URL or directory")
	app.RootCmd.AddCommand(restore)
}

// replicaClient opens the replica at raw: a file:// URL or a directory path.
func replicaClient(raw string) (litestream.ReplicaClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("replica URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "", "file":
		p := raw
		if u.Scheme == "file" {
			p = u.Path
		}
		if p == "" {
			return nil, fmt.Errorf("replica URL %q: no path", raw)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("replica URL %q: %w", raw, err)
		}
		return file.NewReplicaClient(abs), nil
	case "s3", "gs", "abs", "sftp", "webdav", "nats":
		return nil, fmt.Errorf("replica URL %q: %s:// replicas need the litestream companion process (see docs/SCALING.md); built in: file://", raw, u.Scheme)
	default:
		return nil, fmt.Errorf("replica URL %q: unknown scheme %q (use file:///path or a directory)", raw, strings.ToLower(u.Scheme))
	}
}
