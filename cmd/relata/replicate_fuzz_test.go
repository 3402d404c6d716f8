package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/benbjohnson/litestream/file"
)

// FuzzReplicaClient: any --replicate/--from value either yields a file client on an absolute
// path or an error naming the value — without its user and password; it never panics.
func FuzzReplicaClient(f *testing.F) {
	for _, seed := range []string{"file:///mnt/replica", "/tmp/r", "rel/dir", "s3://bucket/x", "file://", "http://x", "%zz", "", "sftp://u:pw@h/x", "file://dir/x", "webdav://u:pw@h%zz/x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := replicaClient(raw)
		if err != nil {
			if !strings.Contains(err.Error(), "replica URL") {
				t.Fatalf("%q: error %q does not name the replica URL", raw, err)
			}
			if i := strings.Index(raw, "://"); i >= 0 {
				if at := strings.LastIndex(raw, "@"); at > i+3 && !strings.ContainsAny(raw[i+3:at], "/?#") &&
					raw[i+3:at] != "REDACTED" && strings.Contains(err.Error(), raw) {
					t.Fatalf("%q: error %q shows the user and password", raw, err)
				}
			}
			return
		}
		fc, ok := c.(*file.ReplicaClient)
		if !ok {
			t.Fatalf("%q: client %T, want a file client", raw, c)
		}
		if !filepath.IsAbs(fc.Path()) {
			t.Fatalf("%q: replica path %q is not absolute", raw, fc.Path())
		}
	})
}
