package stmtcache

import (
	"modernc.org/libc"
)

// The modernc SQLite library allocates its memory from modernc.org/memory, which keeps
// allocations of up to 16 KB in 64 KB pages mapped per size class (powers of two) and
// unmaps a page as soon as its last allocation is freed. SQLite allocates a few such blocks
// for a moment on every B-tree page split (balance_nonroot's scratch space, 8–16 KB) and
// every cursor it opens; when nothing else of that size class is alive, each of them maps a
// fresh page and unmaps it right after: two system calls and a page fault per split. A
// profile of an import of 100,000 contacts spent ~14 % of all its CPU in those mmap and
// munmap calls, on the one connection that writes.
//
// pinSizeClasses allocates one block in each size class once, for the life of the process,
// so each class keeps a mapped page and the short-lived blocks reuse its free slots. It costs
// at most one 64 KB page of address space per class (11 classes), touched only where used.
func pinSizeClasses() {
	tls := libc.NewTLS()
	defer tls.Close()
	for log := 4; log <= 14; log++ {
		if libc.Xmalloc(tls, libc.Tsize_t(1)<<log) == 0 {
			return // out of memory at start: nothing to pin, nothing broken
		}
	}
}

func init() { pinSizeClasses() }
