package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/archive"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/osutils"
	"github.com/pocketbase/pocketbase/tools/security"
	"github.com/spf13/cobra"
)

// Default backup schedule, set at the first `serve` of a data directory whose admin has not
// configured one: every day at 03:00 (server time), the newest 7 kept in pb_data/backups
// (or on S3 when the dashboard's backup settings say so).
const (
	defaultBackupCron = "0 3 * * *"
	defaultBackupKeep = 7
	// backupMarker in pb_data records that Relata has looked at the backup settings once,
	// so an admin who later clears the schedule is never overridden.
	backupMarker = ".relata_backups_configured"
)

// registerBackups adds the default backup schedule and `relata backup create|list|restore`.
func registerBackups(app *pocketbase.PocketBase) {
	var cronExpr string
	pf := app.RootCmd.PersistentFlags()
	pf.StringVar(&cronExpr, "backupCron", envOr("RELATA_BACKUP_CRON", defaultBackupCron),
		`with serve: backup schedule set at first start when none is configured ("off": none; env RELATA_BACKUP_CRON)`)

	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "relata.main.backup-default",
		Func: func(e *core.ServeEvent) error {
			if err := applyDefaultBackupSchedule(e.App, cronExpr); err != nil {
				return fmt.Errorf("default backup schedule: %w", err)
			}
			return e.Next()
		},
	})

	// Litestream's local state (serve --replicate) belongs to the running database, not to
	// a copy of it: a restored backup starts replication afresh.
	app.OnBackupCreate().Bind(&hook.Handler[*core.BackupEvent]{
		Id: "relata.main.backup-exclude",
		Func: func(e *core.BackupEvent) error {
			e.Exclude = append(e.Exclude, ".data.db"+litestream.MetaDirSuffix)
			return e.Next()
		},
	})

	backup := &cobra.Command{Use: "backup", Short: "Create, list and restore backups of the data directory (PocketBase backups)"}
	backup.AddCommand(&cobra.Command{
		Use:          "create [name.zip]",
		SilenceUsage: true,
		Short:        "Back up the data directory (stop the server first, or use the dashboard's backups)",
		Args:         cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
				if !strings.HasSuffix(name, ".zip") || strings.ContainsAny(name, `/\`) {
					return fmt.Errorf("backup create: name %q must be a file name ending in .zip", name)
				}
			}
			before, _ := backupNames(app)
			if before[name] {
				return fmt.Errorf("backup create: %s exists; choose another name or delete it in the dashboard", name)
			}
			if err := app.CreateBackup(c.Context(), name); err != nil {
				return fmt.Errorf("backup create: %w", err)
			}
			if name == "" {
				after, _ := backupNames(app)
				name = newest(after, before)
			}
			fmt.Fprintf(c.OutOrStdout(), "backup created: %s\n", name)
			return nil
		},
	})
	backup.AddCommand(&cobra.Command{
		Use:          "list",
		SilenceUsage: true,
		Short:        "List the backups, newest first",
		Args:         cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			list, err := listBackups(app)
			if err != nil {
				return fmt.Errorf("backup list: %w", err)
			}
			for _, b := range list {
				fmt.Fprintf(c.OutOrStdout(), "%s\t%d\t%s\n", b.Key, b.Size, b.ModTime.UTC().Format(time.RFC3339))
			}
			return nil
		},
	})
	backup.AddCommand(&cobra.Command{
		Use:          "restore NAME|FILE.zip",
		SilenceUsage: true,
		Short:        "Replace the data directory (--dir) with a backup: a name from `backup list`, or a zip file path (stop the server first)",
		Args:         cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := restoreBackup(c.Context(), app, args[0]); err != nil {
				return fmt.Errorf("backup restore %s: %w", args[0], err)
			}
			fmt.Fprintf(c.OutOrStdout(), "restored %s into %s\n", args[0], app.DataDir())
			return nil
		},
	})
	app.RootCmd.AddCommand(backup)
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// applyDefaultBackupSchedule sets Backups.Cron once per data directory, when the admin has
// not set one; it never changes a schedule (or its absence) that an admin chose.
func applyDefaultBackupSchedule(app core.App, cronExpr string) error {
	marker := filepath.Join(app.DataDir(), backupMarker)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	s := app.Settings()
	if s.Backups.Cron == "" && cronExpr != "" && cronExpr != "off" {
		s.Backups.Cron = cronExpr
		if s.Backups.CronMaxKeep < 1 || s.Backups.CronMaxKeep == 3 { // 3 is PocketBase's default
			s.Backups.CronMaxKeep = defaultBackupKeep
		}
		if err := app.Save(s); err != nil {
			return fmt.Errorf("--backupCron %q: %w", cronExpr, err)
		}
		app.Logger().Info("backups scheduled", "cron", s.Backups.Cron, "keep", s.Backups.CronMaxKeep)
	}
	return os.WriteFile(marker, []byte("Relata set its default backup schedule once; the dashboard's settings rule from now on.\n"), 0o644)
}

type backupInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// listBackups reads the backups filesystem (local pb_data/backups or S3), newest first.
func listBackups(app core.App) ([]backupInfo, error) {
	fsys, err := app.NewBackupsFilesystem()
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	objs, err := fsys.List("")
	if err != nil {
		return nil, err
	}
	out := make([]backupInfo, 0, len(objs))
	for _, o := range objs {
		out = append(out, backupInfo{Key: o.Key, Size: o.Size, ModTime: o.ModTime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ModTime.After(out[j].ModTime) })
	return out, nil
}

func backupNames(app core.App) (map[string]bool, error) {
	list, err := listBackups(app)
	names := map[string]bool{}
	for _, b := range list {
		names[b.Key] = true
	}
	return names, err
}

func newest(after, before map[string]bool) string {
	for k := range after {
		if !before[k] {
			return k
		}
	}
	return "(unknown)"
}

// restoreBackup replaces the content of the data directory with the backup src, as
// PocketBase's RestoreBackup does but without re-executing the process (which would run
// this command again): the current content moves to pb_data/.pb_temp_to_delete, which the
// next start removes. The backups directory itself is kept.
func restoreBackup(ctx context.Context, app core.App, src string) error {
	dataDir := app.DataDir()
	tmp := filepath.Join(dataDir, core.LocalTempDirName)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	zipPath, cleanup, err := backupZip(ctx, app, src, tmp)
	if err != nil {
		return err
	}
	defer cleanup()

	extracted := filepath.Join(tmp, "relata_restore_"+security.PseudorandomString(8))
	defer os.RemoveAll(extracted)
	if err := archive.Extract(zipPath, extracted); err != nil {
		return fmt.Errorf("not a readable backup zip: %w", err)
	}
	if _, err := os.Stat(filepath.Join(extracted, "data.db")); err != nil {
		return errors.New("not a Relata/PocketBase backup: data.db is missing in the zip")
	}

	// Close the databases this command opened, then swap the directory contents.
	if err := app.ResetBootstrapState(); err != nil {
		return fmt.Errorf("close the databases: %w", err)
	}
	exclude := []string{core.LocalBackupsDirName, core.LocalTempDirName, core.LocalAutocertCacheDirName, "lost+found"}
	old := filepath.Join(tmp, "old_pb_data_"+security.PseudorandomString(8))
	if err := osutils.MoveDirContent(dataDir, old, exclude...); err != nil {
		return fmt.Errorf("move the current data aside: %w", err)
	}
	if err := osutils.MoveDirContent(extracted, dataDir, exclude...); err != nil {
		if rerr := osutils.MoveDirContent(old, dataDir, exclude...); rerr != nil {
			return fmt.Errorf("move the backup in: %w; and putting the old data back failed: %v (it is in %s)", err, rerr, old)
		}
		return fmt.Errorf("move the backup in: %w (the old data is back)", err)
	}
	return nil
}

// backupZip finds src: a zip file on disk, or a name in the backups filesystem (copied to
// tmp when that is S3).
func backupZip(ctx context.Context, app core.App, src, tmp string) (string, func(), error) {
	noop := func() {}
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		abs, err := filepath.Abs(src)
		if err != nil {
			return "", noop, err
		}
		// A zip inside the data dir's own content would be moved away with it: copy it first.
		return copyToTemp(abs, tmp)
	}
	if strings.ContainsAny(src, `/\`) {
		return "", noop, fmt.Errorf("no such file")
	}
	fsys, err := app.NewBackupsFilesystem()
	if err != nil {
		return "", noop, err
	}
	defer fsys.Close()
	fsys.SetContext(ctx)
	if ok, _ := fsys.Exists(src); !ok {
		return "", noop, fmt.Errorf("no backup named %q (see `relata backup list`)", src)
	}
	if !app.Settings().Backups.S3.Enabled {
		return filepath.Join(app.DataDir(), core.LocalBackupsDirName, filepath.Base(src)), noop, nil
	}
	r, err := fsys.GetReader(src)
	if err != nil {
		return "", noop, err
	}
	defer r.Close()
	f, err := os.CreateTemp(tmp, "relata_restore_zip")
	if err != nil {
		return "", noop, err
	}
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		os.Remove(f.Name())
		return "", noop, fmt.Errorf("download from S3: %w", err)
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

func copyToTemp(path, tmp string) (string, func(), error) {
	in, err := os.Open(path)
	if err != nil {
		return "", func() {}, err
	}
	defer in.Close()
	out, err := os.CreateTemp(tmp, "relata_restore_zip")
	if err != nil {
		return "", func() {}, err
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		os.Remove(out.Name())
		return "", func() {}, err
	}
	return out.Name(), func() { os.Remove(out.Name()) }, nil
}
