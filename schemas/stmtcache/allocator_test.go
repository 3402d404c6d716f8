package stmtcache

import (
	"testing"

	"golang.org/x/sys/unix"
	"modernc.org/libc"
)

// mapped reports whether the 64 KB allocator page holding p is still mapped (msync fails
// with ENOMEM on an unmapped range).
func mapped(p uintptr) bool {
	page := p &^ (1<<16 - 1)
	_, _, errno := unix.Syscall(unix.SYS_MSYNC, page, 4096, unix.MS_ASYNC)
	return errno == 0
}

// TestFreedBlocksKeepTheirPage: SQLite's memory (modernc.org/libc's malloc) comes from
// Relata's copy of modernc.org/memory (third_party/memory/PATCH.md), which keeps a page whose
// last block is freed mapped for the next one, so the short-lived scratch blocks of every
// B-tree page split cost no mmap and munmap. Each size class's block, freed, leaves its page
// mapped; the control, a block above the largest class (always a page of its own, unmapped
// when freed), shows the check sees an unmapped page. It fails with the upstream allocator.
func TestFreedBlocksKeepTheirPage(t *testing.T) {
	tls := libc.NewTLS()
	defer tls.Close()
	for log := 4; log <= 14; log++ {
		size := libc.Tsize_t(1)<<log - 8 // rounds up to the class 1<<log
		p := libc.Xmalloc(tls, size)
		if p == 0 {
			t.Fatalf("malloc(%d) failed", size)
		}
		libc.Xfree(tls, p)
		if !mapped(p) {
			t.Errorf("class %d bytes: the page was unmapped when its block was freed (the upstream allocator?)", 1<<log)
		}
	}
	big := libc.Xmalloc(tls, 40<<10)
	if big == 0 {
		t.Fatal("malloc(40 KB) failed")
	}
	libc.Xfree(tls, big)
	if mapped(big) {
		t.Error("control: a freed 40 KB block's page is still mapped; the check cannot tell")
	}
}
