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
			source := "--replicate"
			if f := pf.Lookup("replicate"); f != nil && !f.Changed {
				source = "RELATA_REPLICATE_URL" // the flag's default came from the environment
			}
			shown := redactURL(replicaURL)
			client, err := replicaClient(replicaURL)
			if err != nil {
				return fmt.Errorf("%s: %w", source, err)
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
				return fmt.Errorf("%s %s: start Litestream: %w", source, shown, err)
			}
			// Ship a first snapshot now: Litestream otherwise starts at its first tick, and a
			// stop before it would leave the replica empty. It also proves the replica writable.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := db.SyncAndWait(ctx); err != nil {
				db.ShutdownSyncTimeout = 0 // one last attempt, not 30 s of retries
				_ = store.Close(context.Background())
				store = nil
				return fmt.Errorf("%s %s: first sync: %w", source, shown, err)
			}
			e.App.Logger().Info("replicating data.db", "replica", shown, "interval", interval.String())
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
				return fmt.Errorf("restore --from %s: %w", redactURL(from), err)
			}
			fmt.Fprintf(c.OutOrStdout(), "restored %s from %s\n", dst, redactURL(from))
			return nil
		},
	}
	restore.Flags().StringVar(&from, "from", "", "the replica: a file:// URL or directory")
	app.RootCmd.AddCommand(restore)
}

// replicaClient opens the replica at raw: a file:// URL or a directory path. Its errors show
// raw without credentials (redactURL): a URL such as sftp://user:password@host/x is refused
// with a message that goes to the console and the logs.
func replicaClient(raw string) (litestream.ReplicaClient, error) {
	shown := redactURL(raw)
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error repeats the whole URL
		}
		return nil, fmt.Errorf("replica URL %q: %w", shown, err)
	}
	switch u.Scheme {
	case "", "file":
		p := raw
		if u.Scheme == "file" {
			// file://dir/x would silently replicate to /x (dir is the URL's host).
			if u.Host != "" && u.Host != "localhost" {
				return nil, fmt.Errorf("replica URL %q: %q is read as a host name, not part of the path: write file:///absolute/path (three slashes) or a plain directory", shown, u.Host)
			}
			if u.User != nil {
				return nil, fmt.Errorf("replica URL %q: a file URL takes no user or password", shown)
			}
			p = u.Path
		}
		if p == "" {
			return nil, fmt.Errorf("replica URL %q: no path", shown)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("replica URL %q: %w", shown, err)
		}
		return file.NewReplicaClient(abs), nil
	case "s3", "gs", "abs", "sftp", "webdav", "nats":
		return nil, fmt.Errorf("replica URL %q: %s:// replicas need the litestream companion process (see docs/SCALING.md); built in: file://", shown, u.Scheme)
	default:
		return nil, fmt.Errorf("replica URL %q: unknown scheme %q (use file:///path or a directory)", shown, strings.ToLower(u.Scheme))
	}
}

// redactURL is raw as it may be shown in messages and logs: a URL's user and password and its
// query (where replica URLs carry keys and tokens) replaced by "REDACTED", its fragment
// dropped. A value without "://" is a directory path and shown as it is; a URL that does not
// parse is not shown at all.
func redactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "REDACTED", false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
