package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/benbjohnson/litestream/file"
)

// FuzzReplicaClient: any --replicate/--from value either yields a file client on an absolute
// path or an error naming the value; it never panics.
func FuzzReplicaClient(f *testing.F) {
	for _, seed := range []string{"file:///mnt/replica", "/tmp/r", "rel/dir", "s3://bucket/x", "file://", "http://x", "%zz", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := replicaClient(raw)
		if err != nil {
			if !strings.Contains(err.Error(), "replica URL") {
				t.Fatalf("%q: error %q does not name the replica URL", raw, err)
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
