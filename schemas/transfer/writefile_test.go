package transfer

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFile: an export file is replaced whole or not at all, and left readable by its
// owner only; a failed write leaves the earlier file as it was and no temporary file.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(path, []byte("old export\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("the database went away")
	for _, c := range []struct {
		name    string
		write   func(io.Writer) error
		wantErr error
		want    string
	}{
		{"a write that fails midway", func(w io.Writer) error {
			if _, err := io.WriteString(w, "half of the new"); err != nil {
				return err
			}
			return boom
		}, boom, "old export\n"},
		{"a write that completes", func(w io.Writer) error {
			_, err := io.WriteString(w, "new export\n")
			return err
		}, nil, "new export\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := writeFile(path, c.write); !errors.Is(err, c.wantErr) {
				t.Fatalf("writeFile: %v, want %v", err, c.wantErr)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != c.want {
				t.Fatalf("the file holds %q (%v), want %q", got, err, c.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Fatalf("the directory holds %d files, want the export alone: %v", len(entries), entries)
			}
		})
	}
	// The process ends while the export is written (a second Ctrl-C): removeUnfinished takes
	// the temporary file away, and the export, when it completes, fails instead of renaming.
	t.Run("a process ending midway", func(t *testing.T) {
		started, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
		go func() {
			done <- writeFile(path, func(w io.Writer) error {
				close(started)
				<-release
				_, err := io.WriteString(w, "an export cut short\n")
				return err
			})
		}()
		<-started
		if entries, _ := os.ReadDir(dir); len(entries) != 2 {
			t.Fatalf("while writing, the directory holds %v, want the export and its temporary file", entries)
		}
		removeUnfinished()
		close(release)
		if err := <-done; err == nil {
			t.Fatal("writeFile succeeded after its file was removed")
		}
		if got, _ := os.ReadFile(path); string(got) != "new export\n" {
			t.Fatalf("the file holds %q, want the earlier export", got)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Fatalf("the directory holds %v, want the export alone", entries)
		}
	})
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the export's mode is %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	// A device is written as it is, without a temporary file beside it.
	if err := writeFile(os.DevNull, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatalf("writeFile(%s): %v", os.DevNull, err)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Fatalf("%s is no longer a device: %v, %v", os.DevNull, fi.Mode(), err)
	}
	// A file name without a directory is written in the working directory.
	t.Chdir(dir)
	if err := writeFile("here.csv", func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "here.csv")); err != nil {
		t.Fatal(err)
	}
}
